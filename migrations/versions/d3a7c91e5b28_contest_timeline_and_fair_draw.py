"""contest timeline (early close of submissions, minimum score per award tier), certificate
verification codes; lottery commitment

Revision ID: d3a7c91e5b28
Revises: c8e4a7d2f615
Create Date: 2026-12-07 05:00:00

Existing contests keep their deadline (``submissions_closed_at`` stays empty: the activity's
sign-up close is the deadline).  Existing lottery activities have no commitment (no hash was shown
before their sign-up opened); their pages say so.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd3a7c91e5b28'
down_revision = 'c8e4a7d2f615'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('contest', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submissions_closed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('early_close_reason', sa.String(length=200), nullable=True))
    with op.batch_alter_table('contest_award_tier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('min_score', sa.Double(), nullable=True))
        batch_op.create_check_constraint(
            'min_score_range', 'min_score IS NULL OR (min_score >= 0 AND min_score <= 100)')
    with op.batch_alter_table('contest_award', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verify_code', sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_contest_award_verify_code'), ['verify_code'])
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lottery_seed_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('lottery_order', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_column('lottery_order')
        batch_op.drop_column('lottery_seed_hash')
    with op.batch_alter_table('contest_award', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_contest_award_verify_code'), type_='unique')
        batch_op.drop_column('verify_code')
    with op.batch_alter_table('contest_award_tier', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_contest_award_tier_min_score_range'), type_='check')
        batch_op.drop_column('min_score')
    with op.batch_alter_table('contest', schema=None) as batch_op:
        batch_op.drop_column('early_close_reason')
        batch_op.drop_column('submissions_closed_at')
