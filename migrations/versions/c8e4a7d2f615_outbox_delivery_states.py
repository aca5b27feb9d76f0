"""outbox_message: delivery states, backoff, leases, the activity; the claim's partial index

Revision ID: c8e4a7d2f615
Revises: c81e5a2f9d47
Create Date: 2026-12-07 02:00:00

Existing rows: sent_at set → sent, else queued.  The index on sent_at goes (the unsent queue is
now the partial index over pending states; the daily purge scans).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c8e4a7d2f615'
down_revision = 'c81e5a2f9d47'
branch_labels = None
depends_on = None

PENDING = "state IN ('queued', 'sending', 'failed')"


def upgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.Enum('queued', 'sending', 'sent', 'failed', 'dead',
                                                       name='outboxstate', native_enum=False,
                                                       create_constraint=True, length=10),
                                      server_default='queued', nullable=False))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('activity_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_outbox_message_activity_id_activity', 'activity', ['activity_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.drop_index('ix_outbox_message_sent_at')
        batch_op.create_index('ix_outbox_message_activity_id', ['activity_id'], unique=False)
    op.execute("UPDATE outbox_message SET state = 'sent' WHERE sent_at IS NOT NULL")
    op.create_index('ix_outbox_message_due', 'outbox_message', ['priority', 'id'], unique=False,
                    sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING))


def downgrade():
    op.drop_index('ix_outbox_message_due', table_name='outbox_message',
                  sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING))
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_message_activity_id')
        batch_op.create_index('ix_outbox_message_sent_at', ['sent_at'], unique=False)
        batch_op.drop_constraint('fk_outbox_message_activity_id_activity', type_='foreignkey')
        batch_op.drop_column('activity_id')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_constraint(batch_op.f('ck_outbox_message_outboxstate'), type_='check')
        batch_op.drop_column('state')
