"""The scheduler's two tables, on their own MetaData.

``scheduler_jobs`` is APScheduler's SQLAlchemyJobStore table, declared here column for column so the
migration creates it and the drift test can compare it (the store itself declares it again on a
private MetaData; both must stay identical). ``schedule_fires`` is the fire-once ledger: one row per
(job, scheduled time), whatever happened to that fire.

They live on a MetaData of their own rather than SQLModel's, so that importing the scheduler does
not change what Alembic compares; hub/tables.py adds them to the hub's metadata next to the migration
that creates them (revision 0006).
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Column, Float, LargeBinary, MetaData, String, Table, Text, Unicode

from crm_core.columns import JsonDoc, UTCDateTime, enum_column

JOBS_TABLE = "scheduler_jobs"
FIRES_TABLE = "schedule_fires"
# APScheduler's own limit for job ids (MySQL's index key length); kept so the store accepts any id
# we accept.
MAX_JOB_ID_LENGTH = 191

scheduler_metadata = MetaData()

jobs_table = Table(
    JOBS_TABLE,
    scheduler_metadata,
    Column("id", Unicode(MAX_JOB_ID_LENGTH), primary_key=True),
    # UTC timestamp (seconds), NULL for a paused job; 25 bits of precision = an 8-byte float.
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


class FireState(StrEnum):
    DUE = "due"  # reserved by the leader, not yet run (a crash here is recovered by the next leader)
    DONE = "done"  # the job ran and its transaction committed together with this state
    FAILED = "failed"  # the job raised; its work was rolled back; not retried
    MISSED = "missed"  # later than the misfire grace time when it could run
    SKIPPED = "skipped"  # the previous fire of the same job was still running


fires_table = Table(
    FIRES_TABLE,
    scheduler_metadata,
    Column("job_id", Unicode(MAX_JOB_ID_LENGTH), primary_key=True),
    Column("fire_time", UTCDateTime(timezone=True), primary_key=True),
    Column("state", enum_column(FireState), nullable=False, index=True),
    # What to run, copied from the job: a one-off job is gone from scheduler_jobs once it fired, but
    # a fire reserved by a leader that then died must still be runnable by the next one.
    Column("func_ref", String(300), nullable=False),
    Column("arguments", JsonDoc, nullable=False),
    Column("misfire_grace_seconds", Float, nullable=True),
    Column("reserved_at", UTCDateTime(timezone=True), nullable=False),
    Column("finished_at", UTCDateTime(timezone=True), nullable=True),
    Column("error", Text, nullable=True),
)
