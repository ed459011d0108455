"""Segments in the hub: the evaluator with the inbox's facts, and the segment files that live next
to the flows (``<flows_dir>/segments/*.yaml``), synced into the database when the hub starts.

A segment file holds a list::

    segments:
      - id: spanish-vips
        name: Spanish-speaking VIPs
        conditions: [...]

A segment defined in a file is owned by that file: the API shows it but refuses to change it (edit
the file instead), so the file and the database never disagree for long.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from crm_core.segments import OrderEvents, SegmentDefinition, Segments, save_segment
from hub.config import HubConfig
from hub.db import Database
from hub.definition_files import DefinitionFileError, read_definitions, source_label, yaml_files
from inbox.segment_facts import SEGMENT_FACTS

FOLDER = "segments"
# Kept under its own name for callers that catch it.
SegmentFileError = DefinitionFileError


def segments_for(config: HubConfig | None = None) -> Segments:
    return Segments(facts=SEGMENT_FACTS, orders=OrderEvents())


@dataclass(frozen=True)
class SegmentFile:
    path: Path
    segments: tuple[SegmentDefinition, ...]


def segment_files(config: HubConfig) -> list[Path]:
    return yaml_files(config.flows_dir / FOLDER)


def read_segment_file(path: Path, segments: Segments) -> SegmentFile:
    """Every segment of one file; raises SegmentFileError naming file and line of each problem."""
    found = read_definitions(path, "segments", "segment", segments.parse, lambda d: d.id)
    return SegmentFile(path, tuple(found))


async def sync_segment_files(db: Database, config: HubConfig) -> list[SegmentDefinition]:
    """Save the file-defined segments into the database (all of them, or none when any file has a
    problem: raises SegmentFileError)."""
    segments = segments_for(config)
    files = [read_segment_file(path, segments) for path in segment_files(config)]
    ids = [d.id for f in files for d in f.segments]
    duplicates: Sequence[str] = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SegmentFileError([f"segment id {i!r} is defined in more than one file" for i in duplicates])
    saved: list[SegmentDefinition] = []
    async with db.transaction() as session:
        for file in files:
            for definition in file.segments:
                await save_segment(
                    session, definition, by="file", source=source_label(file.path, config.flows_dir)
                )
                saved.append(definition)
    return saved
