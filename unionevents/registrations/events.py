"""Events the registration engine announces through ``core.events`` (names and their arguments).

``TRANSITION`` — a registration was created or changed state, inside the change's own transaction:
``activity_id``, ``old`` (None when just created), ``new`` (``RegistrationState``), ``user_id``.
The reports' summary counters listen (``reports.init_app``), so the engine never imports ``reports``.
"""

TRANSITION = "registrations.transition"
