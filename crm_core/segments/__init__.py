"""Segments: saved filters over the customer record, evaluated in SQL on both backends."""

from crm_core.segments.definition import SegmentDefinition, SegmentError, parse_segment
from crm_core.segments.order_summary import (
    ORDER_EVENTS,
    OrderSummary,
    rebuild_order_summaries,
    rebuild_order_summary,
)
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
    "ORDER_EVENTS",
    "FactCompiler",
    "OrderEvents",
    "OrderSummary",
    "Segment",
    "SegmentContext",
    "SegmentDefinition",
    "SegmentError",
    "Segments",
    "delete_segment",
    "get_segment",
    "list_segments",
    "parse_segment",
    "rebuild_order_summaries",
    "rebuild_order_summary",
    "save_segment",
    "segment_filter",
]
