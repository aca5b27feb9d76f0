import logging

from flask import current_app
from sqlalchemy.engine import Connection

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Alembic logs through the app's JSON formatter (core/logging.py: one stream an operator can parse);
# alembic.ini's [loggers] sections are not read.
if not current_app.testing:
    from unionevents.core.logging import log_as_json

    log_as_json("alembic", logging.INFO)
logger = logging.getLogger('alembic.env')


def get_engine():
    # Flask-SQLAlchemy 3: `get_engine()` is deprecated.
    return current_app.extensions['migrate'].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace(
            '%', '%%')
    except AttributeError:
        return str(get_engine().url).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = current_app.extensions['migrate'].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    def run(connection):
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            **conf_args
        )

        # SQLite: batch mode changes a table by copying it, DROP TABLE and a rename. With foreign
        # keys on, that DROP deletes the rows of every table referencing it ON DELETE CASCADE (all
        # registrations, when `activity` is rebuilt). So they are off while migrating (SQLite's own
        # recipe for schema changes) and checked afterwards; the pragma only acts outside a
        # transaction, which is why it goes to the driver's connection before the migration begins.
        sqlite = connection.dialect.name == "sqlite" and not connection.in_transaction()
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
        try:
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if sqlite:
                driver = connection.connection.driver_connection
                broken = driver.execute("PRAGMA foreign_key_check").fetchall()
                driver.execute("PRAGMA foreign_keys = ON")
                if broken:
                    raise RuntimeError(f"foreign keys broken by the migration: {broken[:10]}")

    # pytest-alembic hands over its own engine (or a connection of it) for a fresh database.
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        run(given)
        return
    with (given or get_engine()).connect() as connection:
        run(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
