"""sms_code: one-time SMS codes (login, sign-up, reset); activation codes on user dropped

Accounts made on a worker's behalf now get in with the same SMS-code login as everyone, so the
long-lived activation code kept on the user row goes.

Revision ID: c81e5a2f9d47
Revises: ac0e2089a94b
Create Date: 2026-12-07 01:38:05.457590

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c81e5a2f9d47'
down_revision = 'ac0e2089a94b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sms_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mobile', sa.String(length=11), nullable=False),
    sa.Column('purpose', sa.Enum('login', 'signup', 'reset', name='codepurpose', native_enum=False, create_constraint=True, length=10), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('client', sa.String(length=32), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint('expires_at > sent_at', name=op.f('ck_sms_code_expires_after_sent')),
    sa.CheckConstraint('failures >= 0', name=op.f('ck_sms_code_failures_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_code'))
    )
    with op.batch_alter_table('sms_code', schema=None) as batch_op:
        batch_op.create_index('ix_sms_code_client_sent', ['client', 'sent_at'], unique=False)
        batch_op.create_index('ix_sms_code_mobile_sent', ['mobile', 'sent_at'], unique=False)
        batch_op.create_index('ix_sms_code_sent', ['sent_at'], unique=False)

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('activation_code_hash')
        batch_op.drop_column('activation_failures')



def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('activation_failures', sa.INTEGER(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('activation_code_hash', sa.VARCHAR(length=64), nullable=True))

    with op.batch_alter_table('sms_code', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_code_sent')
        batch_op.drop_index('ix_sms_code_mobile_sent')
        batch_op.drop_index('ix_sms_code_client_sent')

    op.drop_table('sms_code')
