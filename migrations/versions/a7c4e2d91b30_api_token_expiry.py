"""API tokens expire: api_token.expires_at

Revision ID: a7c4e2d91b30
Revises: f6dea24e3d2e
Create Date: 2026-12-06 22:55:00

Tokens issued before this migration get 90 days (the default API_TOKEN_LIFETIME_DAYS) from the
moment it runs, so no app in use is logged out by the deploy itself.
"""
from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c4e2d91b30'
down_revision = 'f6dea24e3d2e'
branch_labels = None
depends_on = None

DEFAULT_LIFETIME = timedelta(days=90)


def upgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
    expires = datetime.now(timezone.utc).replace(tzinfo=None) + DEFAULT_LIFETIME
    api_token = sa.table('api_token', sa.column('expires_at', sa.DateTime()))
    op.execute(api_token.update().values(expires_at=expires))
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(), nullable=False)


def downgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
