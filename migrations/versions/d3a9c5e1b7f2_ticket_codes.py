"""registration.ticket_code: the short code under the QR code, unique per activity

Revision ID: d3a9c5e1b7f2
Revises: d3a9f1c7e5b2
Create Date: 2026-12-07 05:00:00

Existing rows get a random code each (same alphabet and length as ``registrations.ticket_codes``,
written out here so the migration does not change when the app does), drawn again on a clash within
the activity; then the column becomes NOT NULL with the unique constraint.
"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd3a9c5e1b7f2'
down_revision = 'd3a9f1c7e5b2'
branch_labels = None
depends_on = None

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 8
BATCH = 1000


def _backfill(connection):
    registration = sa.table('registration', sa.column('id', sa.Integer), sa.column('activity_id', sa.Integer),
                            sa.column('ticket_code', sa.String))
    used: dict[int, set[str]] = {}
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(registration.c.id, registration.c.activity_id)
            .where(registration.c.id > last_id, registration.c.ticket_code.is_(None))
            .order_by(registration.c.id).limit(BATCH)).all()
        if not rows:
            return
        values = []
        for row_id, activity_id in rows:
            taken = used.setdefault(activity_id, set())
            code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
            while code in taken:
                code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
            taken.add(code)
            values.append({"row_id": row_id, "code": code})
        connection.execute(registration.update().where(registration.c.id == sa.bindparam('row_id'))
                           .values(ticket_code=sa.bindparam('code')), values)
        last_id = rows[-1][0]


def upgrade():
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ticket_code', sa.String(length=8), nullable=True))
    _backfill(op.get_bind())
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.alter_column('ticket_code', existing_type=sa.String(length=8), nullable=False)
        batch_op.create_unique_constraint('uq_registration_ticket_code', ['activity_id', 'ticket_code'])


def downgrade():
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_constraint('uq_registration_ticket_code', type_='unique')
        batch_op.drop_column('ticket_code')
