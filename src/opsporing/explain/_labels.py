"""Plain-language labels of feature groups, and which items each group comes from."""

from __future__ import annotations

from functools import cache

from ..instruments import get_instrument
from ..vocabulary import Language, Text, load_vocabulary

#: Labels of the domain scores, as they read in a sentence.
DOMAIN_LABELS: dict[str, Text] = {
    "emotional": Text("scoren for følelsesmæssig trivsel", "the emotional well-being score"),
    "social": Text("scoren for relationer og fællesskab", "the relationships score"),
    "behaviour": Text("scoren for adfærd", "the behaviour score"),
    "development": Text("scoren for læring og udvikling", "the learning and development score"),
    "care": Text("scoren for omsorg og sundhed", "the care and health score"),
    "safety": Text("tegn på vold eller overgreb", "signs of violence or abuse"),
    "resources": Text("scoren for ressourcer", "the resources score"),
}

#: Short names of the domains, as they read after "udviklingen over tid" or an informant.
DOMAIN_SHORT: dict[str, Text] = {
    "emotional": Text("følelser", "feelings"),
    "social": Text("relationer", "relationships"),
    "behaviour": Text("adfærd", "behaviour"),
    "development": Text("læring og udvikling", "learning and development"),
    "care": Text("omsorg og sundhed", "care and health"),
    "safety": Text("sikkerhed", "safety"),
    "resources": Text("ressourcer", "resources"),
}

#: The other voices of a round: how their answers read, and how their absence reads.
INFORMANT_LABELS: dict[str, tuple[Text, Text]] = {
    "parent": (
        Text("forældrenes besvarelse", "the parents' answers"),
        Text("intet skema fra forældrene", "no form from the parents"),
    ),
    "child": (
        Text("barnets egen besvarelse", "the child's own answers"),
        Text("intet skema fra barnet selv", "no form from the child"),
    ),
}

#: How the trend of a domain over the child's screenings reads.
TRAJECTORY_LABEL = Text("udviklingen over tid", "the trend over time")

#: Labels of the other groups.
OTHER_LABELS: dict[str, Text] = {
    "total": Text("den samlede bekymringsscore", "the overall concern score"),
    "missing": Text("manglende svar", "missing answers"),
    "change": Text("udviklingen siden sidste screening", "the change since the last screening"),
    "age": Text("barnets alder", "the child's age"),
    "setting": Text("dagtilbud eller skole", "daycare or school"),
}


def _lower_first(text: str) -> str:
    # Keep acronyms (PPR) as they are; lower any other leading capital.
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def group_label(group: str, present: bool = True) -> Text:
    """The label of a feature group, for use inside a sentence (lower-case start).

    ``present`` matters for concepts: an absent concern or protective factor reads
    "ingen tegn på ..." / "no sign of ..."; for an informant's form: without one it
    reads "intet skema fra forældrene"; and for ``change``: without an earlier
    screening it reads "ingen tidligere screening" / "no earlier screening"; and for
    ``missing``: with nothing missing it reads "at alle spørgsmål er besvaret".

    Examples
    --------
    >>> group_label("concept:protective.trusted_adult").da
    'en fortrolig voksen'
    >>> group_label("concept:social.isolation", present=False).en
    'no sign of social isolation'
    >>> group_label("domain:behaviour").en
    'the behaviour score'
    >>> group_label("trajectory:emotional").da, group_label("informant:parent:social").da
    ('udviklingen over tid (følelser)', 'forældrenes besvarelse (relationer)')
    >>> group_label("informant:child", present=False).en
    'no form from the child'
    """
    if group.startswith("concept:"):
        label = load_vocabulary().concept(group.removeprefix("concept:")).label
        da, en = _lower_first(label.da), _lower_first(label.en)
        if not present:
            return Text(f"ingen tegn på {da}", f"no sign of {en}")
        return Text(da, en)
    if group.startswith("domain:"):
        return DOMAIN_LABELS[group.removeprefix("domain:")]
    if group.startswith("trajectory:"):
        short = DOMAIN_SHORT[group.removeprefix("trajectory:")]
        return Text(f"{TRAJECTORY_LABEL.da} ({short.da})", f"{TRAJECTORY_LABEL.en} ({short.en})")
    if group.startswith("informant:"):
        who, _, domain = group.removeprefix("informant:").partition(":")
        answers, absent = INFORMANT_LABELS[who]
        if not domain:
            return answers if present else absent
        short = DOMAIN_SHORT[domain]
        return Text(f"{answers.da} ({short.da})", f"{answers.en} ({short.en})")
    if group == "change" and not present:
        return Text("ingen tidligere screening", "no earlier screening")
    if group == "missing" and not present:
        return Text("at alle spørgsmål er besvaret", "all questions being answered")
    return OTHER_LABELS[group]


@cache
def group_items(group: str, instrument: str) -> tuple[str, ...]:
    """Item ids of an instrument behind a group (concept or domain).

    ``instrument`` is an instrument key (``id@version``, as in the ``instrument`` column
    of a score table) or id.

    Examples
    --------
    >>> group_items("concept:learning.absence", "opsporing.skole.trivsel@1.0.0")
    ('dev_absence',)
    >>> group_items("domain:emotional", "opsporing.dagtilbud.trivsel")
    ('emo_sad', 'emo_anxious', 'emo_withdrawn', 'emo_gives_up')
    """
    inst_id, _, version = instrument.partition("@")
    inst = get_instrument(inst_id, version or None)
    if group.startswith("concept:"):
        code = group.removeprefix("concept:")
        return tuple(i.id for i in inst.items if any(e.code == code for e in i.evidences))
    if group.startswith("domain:"):
        # The items summed into the domain score (number items never are).
        return tuple(i.id for i in inst.scored_items_in(group.removeprefix("domain:")))
    return ()


def join(parts: list[str], lang: Language) -> str:
    """``a``, ``a og b``, ``a, b og c`` (``and`` in English)."""
    word = " og " if lang == "da" else " and "
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + word + parts[-1]
