"""inbox read marks, reminder settings, reminders sent; waiting-list offers that expire

Revision ID: d3a9f1c7e5b2
Revises: d4f1b6e8a2c7
Create Date: 2026-12-07 04:40:00

New tables only: an activity without a reminder_setting row gets the default reminders (24 h and
2 h before); a registration without reminder_sent rows has had none yet.  Every activity gets
offer_hours = 12 (a waiting-list offer's time to answer); no registration has an open offer.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd3a9f1c7e5b2'
down_revision = 'd4f1b6e8a2c7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'inbox_read',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('read_up_to', sa.Integer(), nullable=False),
        sa.Column('read_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('read_up_to >= 0', name=op.f('ck_inbox_read_read_up_to_not_negative')),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_inbox_read_user_id_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_inbox_read')),
    )
    op.create_table(
        'reminder_setting',
        sa.Column('activity_id', sa.Integer(), nullable=False),
        sa.Column('hours', sa.String(length=40), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['activity_id'], ['activity.id'],
                                name=op.f('fk_reminder_setting_activity_id_activity'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('activity_id', name=op.f('pk_reminder_setting')),
    )
    op.create_table(
        'reminder_sent',
        sa.Column('registration_id', sa.Integer(), nullable=False),
        sa.Column('hours', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('starts_at', sa.DateTime(), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['registration_id'], ['registration.id'],
                                name=op.f('fk_reminder_sent_registration_id_registration'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('registration_id', 'hours', name=op.f('pk_reminder_sent')),
    )


    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offer_hours', sa.Integer(), server_default='12', nullable=False))
        batch_op.create_check_constraint('offer_hours_range', 'offer_hours BETWEEN 1 AND 168')
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offer_expires_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_registration_offer_expires_at', ['offer_expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_index('ix_registration_offer_expires_at')
        batch_op.drop_column('offer_expires_at')
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_constraint('offer_hours_range', type_='check')
        batch_op.drop_column('offer_hours')
    op.drop_table('reminder_sent')
    op.drop_table('reminder_setting')
    op.drop_table('inbox_read')
