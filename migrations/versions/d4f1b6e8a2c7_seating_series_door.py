"""Meetings seating (seating_plan, seat_assignment), activity series, who checked a person in

Revision ID: d4f1b6e8a2c7
Revises: d3a7c91e5b28
Create Date: 2026-12-07 05:00:00

All new tables and nullable columns: existing rows need nothing.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4f1b6e8a2c7'
down_revision = 'd3a7c91e5b28'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'activity_series',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('node_id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=120), nullable=False),
        sa.Column('whole_series_signup', sa.Boolean(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_activity_series_created_by_id_user'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['node_id'], ['union_node.id'], name=op.f('fk_activity_series_node_id_union_node'),
                                ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_series')),
    )
    op.create_index(op.f('ix_activity_series_node_id'), 'activity_series', ['node_id'], unique=False)
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('series_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_activity_series_id_activity_series', 'activity_series', ['series_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index('ix_activity_series_id', ['series_id'], unique=False)
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked_in_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_registration_checked_in_by_id_user', 'user', ['checked_in_by_id'], ['id'],
                                    ondelete='SET NULL')
    op.create_table(
        'seating_plan',
        sa.Column('activity_id', sa.Integer(), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('seats_per_row', sa.Integer(), nullable=False),
        sa.Column('assigned_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('rows >= 1', name=op.f('ck_seating_plan_rows_positive')),
        sa.CheckConstraint('seats_per_row >= 1', name=op.f('ck_seating_plan_seats_per_row_positive')),
        sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_seating_plan_activity_id_activity'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('activity_id', name=op.f('pk_seating_plan')),
    )
    op.create_table(
        'seat_assignment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('activity_id', sa.Integer(), nullable=False),
        sa.Column('registration_id', sa.Integer(), nullable=False),
        sa.Column('row', sa.Integer(), nullable=False),
        sa.Column('seat', sa.Integer(), nullable=False),
        sa.CheckConstraint('row >= 1 AND seat >= 1', name=op.f('ck_seat_assignment_seat_positive')),
        sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_seat_assignment_activity_id_activity'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['registration_id'], ['registration.id'],
                                name=op.f('fk_seat_assignment_registration_id_registration'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_seat_assignment')),
        sa.UniqueConstraint('activity_id', 'row', 'seat', name=op.f('uq_seat_assignment_seat')),
        sa.UniqueConstraint('registration_id', name=op.f('uq_seat_assignment_registration_id')),
    )


def downgrade():
    op.drop_table('seat_assignment')
    op.drop_table('seating_plan')
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_constraint('fk_registration_checked_in_by_id_user', type_='foreignkey')
        batch_op.drop_column('checked_in_by_id')
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_series_id')
        batch_op.drop_constraint('fk_activity_series_id_activity_series', type_='foreignkey')
        batch_op.drop_column('series_id')
    op.drop_index('ix_activity_series_node_id', 'activity_series')
    op.drop_table('activity_series')
