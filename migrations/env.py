import logging
from logging.config import fileConfig

from flask import current_app

from alembic import context, util

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
# Keep the app's loggers alive (tests read them); Alembic's default would disable them.
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger('alembic.env')


def get_engine():
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

    connectable = get_engine()

    with connectable.connect() as connection:
        args = dict(conf_args)
        sqlite = connection.dialect.name == 'sqlite'
        if sqlite:
            # The app's SQLite connections enforce foreign keys (intake/db.py). A batch
            # migration rebuilds a table (copy, DROP the old one, rename), and with foreign
            # keys on, dropping a parent would delete its children (ON DELETE CASCADE) or
            # fail; Alembic's documentation says to turn them off. The pragma does nothing
            # inside a transaction, so it is set and committed before Alembic begins one.
            _sqlite_foreign_keys(connection, on=False)
            counters = _SqliteCounters(connection)
            args['on_version_apply'] = (
                *util.to_tuple(args.get('on_version_apply'), default=()), counters.keep,
            )
        try:
            context.configure(
                connection=connection,
                target_metadata=get_metadata(),
                **args
            )

            with context.begin_transaction():
                context.run_migrations()
        finally:
            if sqlite:
                # The connection goes back to the app's pool: enforcing again.
                connection.rollback()
                _sqlite_foreign_keys(connection, on=True)


def _sqlite_foreign_keys(connection, on):
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    connection.commit()


class _SqliteCounters:
    """Keeps each AUTOINCREMENT table's counter (sqlite_sequence) from going back.

    Tables whose ids are named elsewhere never hand out an id twice (migration 0034). A batch
    migration that rebuilds one (copy into a new table, DROP the old, rename) loses the old
    table's counter with it: the new one starts after the highest id still in the table, and
    the ids of deleted rows would come back. After each revision, in its transaction, every
    counter is raised back to the highest it has been in this run."""

    def __init__(self, connection):
        self.highest = self._counters(connection)
        connection.commit()  # (a read began a transaction: Alembic must begin its own)

    @staticmethod
    def _counters(connection):
        exists = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
        ).first()
        if exists is None:
            return {}
        return dict(connection.exec_driver_sql("SELECT name, seq FROM sqlite_sequence").all())

    def keep(self, ctx, step, heads, run_args):
        connection = ctx.connection
        current = self._counters(connection)
        autoincrement = set(
            connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND sql LIKE '%AUTOINCREMENT%'"
            ).scalars()
        )
        for name, seq in self.highest.items():
            if name not in autoincrement or current.get(name, -1) >= seq:
                continue  # (a table made without AUTOINCREMENT again has no counter)
            if name in current:
                statement = "UPDATE sqlite_sequence SET seq = ? WHERE name = ?"
            else:
                statement = "INSERT INTO sqlite_sequence (seq, name) VALUES (?, ?)"
            connection.exec_driver_sql(statement, (seq, name))
        for name, seq in current.items():
            self.highest[name] = max(seq, self.highest.get(name, seq))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
