"""Segments: saved filters over the customer record, evaluated in SQL on both backends."""

from crm_core.segments.definition import SegmentDefinition, SegmentError, parse_segment
from crm_core.segments.sql import FactCompiler, OrderEvents, SegmentContext, segment_filter
from crm_core.segments.store import (
    Segment,
    Segments,
    delete_segment,
    get_segment,
    list_segments,
    save_segment,
)

__all__ = [
    "FactCompiler",
    "OrderEvents",
    "Segment",
    "SegmentContext",
    "SegmentDefinition",
    "SegmentError",
    "Segments",
    "delete_segment",
    "get_segment",
    "list_segments",
    "parse_segment",
    "save_segment",
    "segment_filter",
]
