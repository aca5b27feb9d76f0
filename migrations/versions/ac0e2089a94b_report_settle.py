"""report_settle: when the reach rows were last settled (no settling inside report pages);
report_reach's worker index covers what the kind sets' ragged days read

Revision ID: ac0e2089a94b
Revises: c5e8a1f2b934
Create Date: 2026-12-07 01:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ac0e2089a94b'
down_revision = 'c5e8a1f2b934'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_settle',
    sa.Column('id', sa.SmallInteger(), nullable=False),
    sa.Column('settled_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_report_settle_one_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_settle'))
    )
    with op.batch_alter_table('report_reach', schema=None) as batch_op:
        batch_op.create_index('ix_report_reach_worker', ['user_id', 'node_id', 'day', 'kind', 'counted'],
                              unique=False)
        batch_op.drop_index('ix_report_reach_user')


def downgrade():
    with op.batch_alter_table('report_reach', schema=None) as batch_op:
        batch_op.create_index('ix_report_reach_user', ['user_id'], unique=False)
        batch_op.drop_index('ix_report_reach_worker')
    op.drop_table('report_settle')
