"""contest entries: always a registration; performers with mobiles; an optional recording

Revision ID: e7b2c4d6f8a1
Revises: d3a9c5e1b7f2
Create Date: 2026-12-07 09:40:00

- ``contest_entry.registration_id`` becomes NOT NULL, and deleting a registration deletes its
  entries (ON DELETE CASCADE instead of SET NULL): an entry never exists without the registration
  that holds the entrant's place.  Rows left without one (only a deleted registration could leave
  them: the app never deletes one, an erased account's are kept) get the entrant's latest
  registration for the contest's activity; if an entrant has none at all the upgrade stops
  and names the entries (nothing is deleted).
- ``contest_entry_member``: one row per performer of a small group or choir (name, mobile).
- ``contest_entry.media_name/media_type/media_size``: the optional audio or video recording, all
  three or none (``ck_contest_entry_media_complete``).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7b2c4d6f8a1'
down_revision = 'd3a9c5e1b7f2'
branch_labels = None
depends_on = None


def _tables():
    entry = sa.table('contest_entry', sa.column('id', sa.Integer), sa.column('contest_id', sa.Integer),
                     sa.column('user_id', sa.Integer), sa.column('registration_id', sa.Integer))
    contest = sa.table('contest', sa.column('id', sa.Integer), sa.column('activity_id', sa.Integer))
    registration = sa.table('registration', sa.column('id', sa.Integer), sa.column('user_id', sa.Integer),
                            sa.column('activity_id', sa.Integer))
    latest = (sa.select(sa.func.max(registration.c.id))
              .where(registration.c.user_id == entry.c.user_id,
                     registration.c.activity_id == sa.select(contest.c.activity_id)
                     .where(contest.c.id == entry.c.contest_id).correlate(entry).scalar_subquery())
              .correlate(entry).scalar_subquery())
    return entry, latest


def _refuse_unplaceable_entries(connection):
    """Before anything changes: an entry whose entrant has no registration for the activity at all
    cannot be given one without inventing a place, and a migration must not delete a contestant's
    entry (with its scores and awards) either.  Stop and name them; the operator decides."""
    entry, latest = _tables()
    orphans = [row[0] for row in connection.execute(
        sa.select(entry.c.id).where(entry.c.registration_id.is_(None), latest.is_(None)).order_by(entry.c.id))]
    if orphans:
        raise RuntimeError(
            "contest_entry rows whose entrant has no registration for the contest's activity: "
            f"ids {orphans[:50]}{' ...' if len(orphans) > 50 else ''}. Give each entrant a registration "
            "(or withdraw the entry) and run the upgrade again; nothing was changed.")


def _backfill(connection):
    entry, latest = _tables()
    connection.execute(entry.update().where(entry.c.registration_id.is_(None)).values(registration_id=latest))


def upgrade():
    _refuse_unplaceable_entries(op.get_bind())
    op.create_table(
        'contest_entry_member',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('mobile', sa.String(length=11), nullable=False),
        sa.CheckConstraint('position >= 0', name=op.f('ck_contest_entry_member_position_not_negative')),
        sa.ForeignKeyConstraint(['entry_id'], ['contest_entry.id'],
                                name=op.f('fk_contest_entry_member_entry_id_contest_entry'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contest_entry_member')),
        sa.UniqueConstraint('entry_id', 'position', name='uq_contest_entry_member_position'),
    )
    with op.batch_alter_table('contest_entry_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contest_entry_member_entry_id'), ['entry_id'], unique=False)

    _backfill(op.get_bind())
    with op.batch_alter_table('contest_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('media_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('media_type', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('media_size', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_contest_entry_media_name'), ['media_name'])
        batch_op.create_check_constraint(
            'media_complete',
            '(media_name IS NULL AND media_type IS NULL AND media_size IS NULL) OR '
            '(media_name IS NOT NULL AND media_type IS NOT NULL AND media_size > 0)')
        batch_op.alter_column('registration_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint('fk_contest_entry_registration_id_registration', type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_contest_entry_registration_id_registration'), 'registration',
                                    ['registration_id'], ['id'], ondelete='CASCADE')


def downgrade():
    with op.batch_alter_table('contest_entry', schema=None) as batch_op:
        batch_op.drop_constraint('fk_contest_entry_registration_id_registration', type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_contest_entry_registration_id_registration'), 'registration',
                                    ['registration_id'], ['id'], ondelete='SET NULL')
        batch_op.alter_column('registration_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint(batch_op.f('ck_contest_entry_media_complete'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_contest_entry_media_name'), type_='unique')
        batch_op.drop_column('media_size')
        batch_op.drop_column('media_type')
        batch_op.drop_column('media_name')
    with op.batch_alter_table('contest_entry_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contest_entry_member_entry_id'))
    op.drop_table('contest_entry_member')
