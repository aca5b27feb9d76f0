"""registration.checkin_override_reason: why an organiser checked someone in outside the window

Revision ID: a3c9e1d47b20
Revises: a7c4e2d91b30
Create Date: 2026-12-06 22:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3c9e1d47b20'
down_revision = 'a7c4e2d91b30'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkin_override_reason', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_column('checkin_override_reason')
