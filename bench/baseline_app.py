"""The ceiling of our stack for the rush benchmark — NOT part of the product.

A minimal Flask app on the same database engine and gunicorn settings as the
product: its one authenticated view looks the bearer token up by SHA-256 digest
and inserts one row with SQLAlchemy Core. Whatever the product does beyond this
(eligibility, capacity, waiting list, audit, ORM, JSON schemas, logging) shows as
the gap between the two.

    BASELINE_DATABASE_URL=sqlite:////tmp/x.db gunicorn "bench.baseline_app:create_app()"
"""
from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone

from flask import Flask, jsonify, request
from sqlalchemy import (
    Column, DateTime, Integer, MetaData, String, Table, create_engine, event, insert, select,
)

metadata = MetaData()
tokens = Table(
    "bench_token", metadata,
    Column("digest", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False),
)
signups = Table(
    "bench_signup", metadata,
    Column("id", Integer, primary_key=True),
    Column("activity_id", Integer, nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
)


def make_engine(url: str):
    """The same SQLite settings as the product (WAL, busy timeout, synchronous FULL, BEGIN IMMEDIATE)."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout = 15000")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection):
            immediate = connection.get_execution_options().get("immediate")
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
    return engine


def create_app(url: str | None = None) -> Flask:
    app = Flask(__name__)
    engine = make_engine(url or os.environ["BASELINE_DATABASE_URL"])

    def token_user() -> int | None:
        """The bearer token's user id, looked up by SHA-256 digest in its own short read transaction."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        digest = hashlib.sha256(header[7:].strip().encode()).hexdigest()
        with engine.connect() as conn:
            user_id = conn.scalar(select(tokens.c.user_id).where(tokens.c.digest == digest))
            conn.rollback()
        return user_id

    @app.get("/me")
    def me():
        """The token lookup alone (the benchmark's warm-up, like the product's ``GET /api/v1/me``)."""
        user_id = token_user()
        if user_id is None:
            return jsonify(message="unauthorized"), 401
        return jsonify(id=user_id)

    @app.post("/signup/<int:activity_id>")
    def signup(activity_id: int):
        user_id = token_user()
        if user_id is None:
            return jsonify(message="unauthorized"), 401
        with engine.connect().execution_options(immediate=True) as conn:
            with conn.begin():
                new_id = conn.execute(insert(signups).values(
                    activity_id=activity_id, user_id=user_id,
                    created_at=datetime.now(timezone.utc).replace(tzinfo=None),
                )).inserted_primary_key[0]
        return jsonify(id=new_id, state="confirmed"), 201

    return app
