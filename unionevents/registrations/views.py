"""Worker-facing registration pages: sign-up, my activities, tickets, cancellation."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("registrations", __name__)
