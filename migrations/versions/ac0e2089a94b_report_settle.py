"""report_settle: when the reach rows were last settled (no settling inside report pages)

Revision ID: ac0e2089a94b
Revises: a3c9e1d47b20
Create Date: 2026-12-07 01:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ac0e2089a94b'
down_revision = 'a3c9e1d47b20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_settle',
    sa.Column('id', sa.SmallInteger(), nullable=False),
    sa.Column('settled_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_report_settle_one_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_settle'))
    )


def downgrade():
    op.drop_table('report_settle')
