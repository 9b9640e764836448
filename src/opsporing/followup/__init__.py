"""The detection process after a decision: follow-up plans, reviews, what is due, drafts, figures.

Detection is a process, not a score (issue 14; the seeds' common detection model, Norway's
BTI): after a recorded :class:`~opsporing.decision.Decision` the professional agrees actions
with the parents and the child and a date to look again (:class:`FollowUpPlan`), looks again
(:class:`Review`: resolved, continues, or escalates to a new decision), and when the concern
is serious drafts the notification in dialogue with the parents (:func:`notification_draft`)
unless that would put the child at risk. Plans and reviews are signed like decisions and
stored append-only in the web form's hash-chained audit log as sealed personal records of
kinds ``plan`` and ``review`` (:func:`record_plan`, :func:`record_review`), with a clear,
non-personal index for the due list; every read of a child's records goes through the log's
access-logged read with a purpose (a :class:`~opsporing.web.Reader`). :func:`due` lists
what a unit must look at this week and :func:`key_figures` sums the process up for a
municipality.

Policy is data: the catalogue of step-1 and step-2 measures, the review interval by step and
the red flags for which the parents are not told first live in
``opsporing/followup/data/followup.yaml`` (:func:`load_catalogue`, :func:`review_days`); roles
and concern codes in the vocabulary. Storing needs the ``[web]`` extra (the audit log).

Examples
--------
>>> from opsporing.followup import load_catalogue, review_days
>>> sorted({m.step for m in load_catalogue().measures.values()}), review_days(1)
([1, 2], 42)
"""

from ._catalogue import (
    OUTCOMES,
    Catalogue,
    Measure,
    default_review_date,
    load_catalogue,
    review_days,
)
from ._draft import NotificationDraft, notification_draft
from ._figures import KeyFigures, key_figures
from ._log import (
    ChildRecords,
    DueEntry,
    DueItem,
    TimelineEntry,
    child_records,
    child_units,
    due,
    due_index,
    find_plan,
    next_review,
    plans,
    record_plan,
    record_review,
    reviews,
    screening_records,
    set_unit,
    timeline,
    unit_of,
)
from ._records import MAX_TEXT, FollowUpPlan, Review

__all__ = [
    "MAX_TEXT",
    "OUTCOMES",
    "Catalogue",
    "ChildRecords",
    "DueEntry",
    "DueItem",
    "FollowUpPlan",
    "KeyFigures",
    "Measure",
    "NotificationDraft",
    "Review",
    "TimelineEntry",
    "child_records",
    "child_units",
    "default_review_date",
    "due",
    "due_index",
    "find_plan",
    "key_figures",
    "load_catalogue",
    "next_review",
    "notification_draft",
    "plans",
    "record_plan",
    "record_review",
    "review_days",
    "reviews",
    "screening_records",
    "set_unit",
    "timeline",
    "unit_of",
]
