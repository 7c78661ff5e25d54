from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from app.kit.types import STRICT_BODY, PgText


class TaskStatus(StrEnum):
    todo = "todo"
    in_progress = "in_progress"
    done = "done"


class TaskSort(StrEnum):
    created_desc = "-created_at"
    created_asc = "created_at"
    due_asc = "due_at"
    due_desc = "-due_at"
    priority_desc = "-priority"
    updated_desc = "-updated_at"


#: PgText's check (no NUL, no lone surrogate), to place *after* string constraints: constraints
#: placed after a validator are checked before `strip_whitespace` applies, so "   " would pass as a
#: title and reach the database's CHECK (a 500) while a padded 100-character title would be refused.
_STORABLE: AfterValidator = get_args(PgText)[1]

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=100), _STORABLE
]
Description = Annotated[str, StringConstraints(max_length=500), _STORABLE]
Priority = Annotated[int, Field(ge=0, le=3, strict=True)]  # 1.0, "2" and false are not priorities
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), _STORABLE
]
Tags = Annotated[list[Tag], Field(max_length=20)]
SearchText = Annotated[str, StringConstraints(min_length=1, max_length=100), _STORABLE]
TagFilter = Annotated[str, StringConstraints(min_length=1, max_length=50), _STORABLE]

#: Instants the API stores, exclusive of Python's extremes: asyncpg cannot encode an instant whose
#: UTC value falls outside Python's range (a 500), and it encodes `datetime.min`/`max` as
#: `-infinity`/`infinity`, which JSON clients cannot parse and which the due-date sorts reserve
#: for "no due date".
EARLIEST_INSTANT = datetime(1, 1, 2, tzinfo=UTC)
LATEST_INSTANT = datetime(9999, 12, 31, tzinfo=UTC)


def _utc_in_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_INSTANT <= utc < LATEST_INSTANT:
        raise ValueError(
            f"must be between {EARLIEST_INSTANT.isoformat()} and {LATEST_INSTANT.isoformat()}"
        )
    return utc


_DATE_TIME_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


def _date_time_text(value: object) -> object:
    """Only date-time text, as the OpenAPI schema says (`format: date-time`). Pydantic would
    also read a number, or a string of digits, as Unix time: `"due_at": 0` meant 1970."""
    if isinstance(value, datetime) or (isinstance(value, str) and _DATE_TIME_TEXT.match(value)):
        return value
    raise ValueError("must be a date-time with a UTC offset, such as 2030-01-31T09:00:00Z")


#: A timezone-aware instant, normalised to UTC (so equal instants fingerprint equally in cursors).
Instant = Annotated[AwareDatetime, BeforeValidator(_date_time_text), AfterValidator(_utc_in_range)]


def _unique_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


class TaskCreate(BaseModel):
    model_config = STRICT_BODY

    title: Title
    description: Description = ""
    status: TaskStatus = TaskStatus.todo
    priority: Priority = 0
    due_at: Instant | None = None
    tags: Tags = Field(default_factory=list)

    @field_validator("tags")
    @classmethod
    def _dedupe(cls, tags: list[str]) -> list[str]:
        return _unique_tags(tags)


class TaskUpdate(BaseModel):
    """Only the fields sent change. `due_at: null` clears the due date; other fields cannot be null."""

    model_config = STRICT_BODY

    title: Title | None = None
    description: Description | None = None
    status: TaskStatus | None = None
    priority: Priority | None = None
    due_at: Instant | None = None
    tags: Tags | None = None

    @field_validator("title", "description", "status", "priority", "tags")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be omitted but not null")
        return value

    @field_validator("tags")
    @classmethod
    def _dedupe(cls, tags: list[str] | None) -> list[str] | None:
        return _unique_tags(tags) if tags is not None else None

    def changes(self) -> dict[str, object]:
        return self.model_dump(include=self.model_fields_set)


class TaskResponse(BaseModel):
    id: uuid.UUID
    title: str
    description: str
    status: TaskStatus
    priority: int
    due_at: datetime | None
    tags: list[str]
    owner: str = Field(description="The owner's username")
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class PageMeta(BaseModel):
    limit: int
    has_more: bool
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last"
    )


class TaskPage(BaseModel):
    items: list[TaskResponse]
    meta: PageMeta


class TaskListQuery(BaseModel):
    """GET /tasks's query string, validated as one model (one pass instead of one per
    parameter). Unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")

    status: list[TaskStatus] | None = Field(None, description="Match any of these statuses")
    priority: list[Annotated[int, Field(ge=0, le=3)]] | None = Field(
        None, description="Match any of these priorities"
    )
    tag: TagFilter | None = Field(None, description="Has this tag")
    due_before: Instant | None = Field(None, description="due_at < this")
    due_after: Instant | None = Field(None, description="due_at >= this")
    q: SearchText | None = Field(
        None, description="Text in title or description, case-insensitive; `%` and `_` are literal"
    )
    sort: TaskSort = Field(TaskSort.created_desc, description="Sort key; `-` means descending")
    limit: int = Field(20, ge=1, le=100, description="Tasks per page")
    cursor: str | None = Field(None, description="From meta.next_cursor")
