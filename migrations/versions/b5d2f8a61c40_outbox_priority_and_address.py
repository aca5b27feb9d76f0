"""outbox_message.priority and .address: codes jump the queue; codes to numbers without an account

Revision ID: b5d2f8a61c40
Revises: a3c9e1d47b20
Create Date: 2026-12-07 01:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b5d2f8a61c40'
down_revision = 'a3c9e1d47b20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.SmallInteger(), server_default='20', nullable=False))
        batch_op.add_column(sa.Column('address', sa.String(length=120), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('address')
        batch_op.drop_column('priority')
