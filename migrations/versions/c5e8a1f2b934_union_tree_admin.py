"""union_node: names unique under their parent, an optional code, retiring and merging

Revision ID: c5e8a1f2b934
Revises: b5d2f8a61c40
Create Date: 2026-12-07 01:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5e8a1f2b934'
down_revision = 'b5d2f8a61c40'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('union_node', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('retired_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.drop_constraint('uq_union_node_name', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_union_node_code'), ['code'])
        batch_op.create_unique_constraint('uq_union_node_parent_name', ['parent_id', 'name'])
        batch_op.create_foreign_key(batch_op.f('fk_union_node_merged_into_id_union_node'), 'union_node',
                                    ['merged_into_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_union_node_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_union_node_merged_into_id'), ['merged_into_id'], unique=False)
        batch_op.create_index('uq_union_node_root_name', ['name'], unique=True,
                              sqlite_where=sa.text('parent_id IS NULL'),
                              postgresql_where=sa.text('parent_id IS NULL'))


def downgrade():
    with op.batch_alter_table('union_node', schema=None) as batch_op:
        batch_op.drop_index('uq_union_node_root_name', sqlite_where=sa.text('parent_id IS NULL'),
                            postgresql_where=sa.text('parent_id IS NULL'))
        batch_op.drop_index(batch_op.f('ix_union_node_merged_into_id'))
        batch_op.drop_index(batch_op.f('ix_union_node_name'))
        batch_op.drop_constraint(batch_op.f('fk_union_node_merged_into_id_union_node'), type_='foreignkey')
        batch_op.drop_constraint('uq_union_node_parent_name', type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_union_node_code'), type_='unique')
        batch_op.create_unique_constraint('uq_union_node_name', ['name'])
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('retired_at')
        batch_op.drop_column('code')
