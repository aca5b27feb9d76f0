"""Entry point for `flask --app app ...` and gunicorn (`app:app`)."""
import sys

from unionevents import create_app
from unionevents.core.settings import SettingError

try:
    app = create_app()
except SettingError as error:  # a bad setting: one clear line and exit status 1, not a traceback
    sys.exit(f"unionevents: configuration error: {error}")
