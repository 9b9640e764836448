"""The words of the web form's own interface: gettext messages, in English in the code.

A template reads ``t["key"]``; the key names an English message marked with ``N_`` so
Babel's extractor finds it (``pybabel extract -k N_ -k tr``), and the Danish comes from the one
catalog, ``opsporing/locale/da/LC_MESSAGES/opsporing.po``, that the command line reads too
(:func:`opsporing._texts.translate`). A new interface language is one more ``.po`` file.
Every page is in one language: the request's (``?lang=``), the interface's and the texts'.

Instrument wording, concept labels, staircase steps, bands and the duty-to-notify text come
from the instruments and :mod:`opsporing.vocabulary`; only the interface's own words live here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from babel import Locale

from .._texts import LANGUAGES, N_, Lang, translate
from ..vocabulary import load_vocabulary

__all__ = ["UI", "parse_lang"]

#: Interface strings: key -> English message (the Danish is in the catalog).
_STRINGS: dict[str, str] = {
    "app_title": N_("Opsporing – form and decision"),
    "skip": N_("Skip to content"),
    "pick_instrument": N_("Choose a form"),
    "pick_intro": N_(
        "Choose the form you want to fill in. Never enter a CPR number or a name: use a "
        "pseudonymous form id."
    ),
    "start": N_("Fill in"),
    "ages": N_("Ages"),
    "years": N_("years"),
    "about_child": N_("About this form"),
    "form_id": N_("Form id (pseudonymous)"),
    "form_id_help": N_(
        "An id that only your own case records can link to the child, e.g. “B-2026-041”. "
        "Never a CPR number or a name."
    ),
    "age": N_("The child's age (years)"),
    "not_answered": N_("Not answered"),
    "score_button": N_("Score and see result"),
    "errors_title": N_("The form has errors"),
    "errors_intro": N_("Nothing was stored. Correct the fields below and submit again."),
    "err_cpr": N_(
        "This looks like a CPR number. Never enter CPR numbers here; use a pseudonymous id."
    ),
    "err_id": N_("Enter 1-64 characters: letters, digits, dot, hyphen or underscore."),
    "err_required": N_("Required."),
    "err_age": N_("Enter the age as a number, e.g. 4."),
    "err_token": N_("The form has expired or is invalid. Open a new form."),
    "err_choice": N_("Choose one of the options."),
    "err_number": N_("Enter a whole number from {low} to {high}."),
    "err_answer_required": N_(
        "Must be answered: a blank is never read as “no”. Choose “Unsure” if in doubt."
    ),
    "erased_title": N_("Erased"),
    "erased_text": N_(
        "The content was erased under the retention rules; only that it existed remains."
    ),
    "purpose_title": N_("Why do you open the child's data?"),
    "purpose_intro": N_("Every view of a child's data is logged with who, when and the purpose."),
    "purpose": N_("Purpose"),
    "purpose_button": N_("Show"),
    "critical_title": N_("Critical answers"),
    "critical_intro": N_("These answers give at least yellow, whatever the sums say. Do this now:"),
    "err_reason": N_(
        "Give a reason: it is required when you choose another step than the suggestion or go"
        " against a red flag."
    ),
    "err_reason_no_suggestion": N_(
        "Give a reason: there is no suggestion to follow, so the reason is required."
    ),
    "err_reason_long": N_("At most 2000 characters."),
    "err_conflict": N_("This form was already submitted with different content. Open a new form."),
    "err_age_range": N_("The age must be from {low} to {high} years for this form."),
    "err_version": N_(
        "The form is version {got}, but the version here is {expected}. Open a new form."
    ),
    "err_invalid": N_("Not a valid value for this form."),
    "result_title": N_("Result"),
    "red_flag_title": N_("Duty to notify"),
    "red_flag_raised": N_("Red flag:"),
    "scores": N_("Scores"),
    "domain": N_("Domain"),
    "score": N_("Score"),
    "answered": N_("Answered"),
    "band": N_("Band"),
    "not_scorable": N_("Not scored (too few answers)"),
    "total": N_("Total"),
    "overall": N_("Overall band"),
    "concerns": N_("Concerns"),
    "protective": N_("Protective factors"),
    "none": N_("None"),
    "suggestion": N_("The model's suggestion"),
    "suggestion_note": N_(
        "A suggestion is decision support. You decide; the suggestion does nothing by itself."
    ),
    "no_model": N_("No model available"),
    "no_model_text": N_(
        "No suggestion model is installed. Decide from the scores, your professional judgment"
        " and the conversation with the parents."
    ),
    "suggested_step": N_("Suggested step"),
    "what_would_change": N_("What would change the suggestion"),
    "model_failed": N_(
        "The model could not make a suggestion for this form (see the server's log)."
    ),
    "notify_headline": N_("Red flag: follow the duty to notify now (Children's Act § 133)"),
    "notify_detail": N_(
        "The model is not used when a red flag is raised. The suggestion is to notify the "
        "municipality."
    ),
    "municipal_note": N_(
        "This step needs the municipality's own assessment (Children's Act §§ 18-20): daycare"
        " and school act on steps 0-{own_to} and notify or refer."
    ),
    "p_needs": N_("Probability of needing more than universal services"),
    "interval": N_("Uncertainty: steps {lo}-{hi}"),
    "up": N_("pushes up"),
    "down": N_("pushes down"),
    "abstained": N_("The model gives no suggestion"),
    "probabilities": N_("Probabilities"),
    "step": N_("Step"),
    "probability": N_("Probability"),
    "reasons": N_("Reasons"),
    "plot_alt": N_("Explanation plot of the suggestion"),
    "who_acts": N_("Who acts"),
    "decision": N_("Your decision"),
    "decision_intro": N_(
        "Nothing is stored until you record a decision. The form and the decision are stored "
        "together."
    ),
    "chosen_step": N_("Chosen step on the staircase"),
    "reason": N_("Reason"),
    "notify": N_("I notify the municipality / refer the child to the municipality"),
    "notify_help": N_(
        "A red flag is followed by notifying. Steps {municipal_from}-6 are decided by the "
        "municipality; others choose the step they act on themselves (0-{own_to}) and notify "
        "or refer."
    ),
    "err_municipal": N_(
        "Steps {municipal_from}-6 need the municipality's own assessment. Choose the step you"
        " act on (0-{own_to}) and tick notify/refer."
    ),
    "err_suggestion_changed": N_(
        "The suggestion changed since the page was shown. Review it and decide again."
    ),
    "reason_help": N_(
        "Required when you do not follow the suggestion: another step than the suggested one,"
        " or no notification when a red flag is raised."
    ),
    "reason_always": N_(
        "Required: there is no suggested step to follow, so say briefly why you choose this "
        "step."
    ),
    "record": N_("Record decision and store"),
    "saved_title": N_("Stored"),
    "saved_text": N_("The form and the decision are stored in the audit log."),
    "screening_no": N_("Screening no."),
    "decision_no": N_("Decision no."),
    "stored_at": N_("Stored at"),
    "duplicate": N_("This form was already stored; it was not stored again."),
    "new_form": N_("Fill in a new form"),
    "notified": N_("Notifies/refers to the municipality"),
    "yes": N_("Yes"),
    "no": N_("No"),
    "not_found": N_("Not found"),
    "login_title": N_("Log in"),
    "login_intro": N_(
        "Log in with your staff id. Decisions are recorded under your id and your role."
    ),
    "username": N_("Staff id"),
    "password": N_("Password"),
    "login_button": N_("Log in"),
    "logout_button": N_("Log out"),
    "logged_out": N_("You are logged out."),
    "logged_in_as": N_("Logged in as"),
    "err_login": N_("Wrong staff id or password."),
    "err_login_blocked": N_(
        "Too many failed attempts. Wait a quarter of an hour, or contact an administrator."
    ),
    "forbidden_title": N_("Not allowed"),
    "err_csrf": N_(
        "The page has expired, or the form did not come from this site. Nothing was stored. "
        "Open the page again and submit anew."
    ),
    "err_not_yours": N_("You can only see the receipts of the decisions you recorded yourself."),
    "err_cannot_decide": N_("Your role does not record decisions."),
    "recorded_by": N_("Recorded by"),
    "oidc_or": N_("Or:"),
    "oidc_done_title": N_("You are logged in"),
    "oidc_continue": N_("Continue"),
    "oidc_refused_title": N_("Login refused"),
    "err_oidc_state": N_(
        "The login has expired, or it was not started in this browser. Start again."
    ),
    "err_oidc_provider": N_(
        "The municipality's login did not answer as expected. Try again, or contact an "
        "administrator."
    ),
    "err_oidc_token": N_(
        "The answer of the municipality's login could not be verified. Nothing was stored. "
        "Start again."
    ),
    "err_oidc_no_role": N_(
        "Your user at the municipality's login has no role in opsporing. Ask an administrator"
        " to give you one."
    ),
    "err_oidc_ambiguous_role": N_(
        "Your user at the municipality's login has more than one role in opsporing. Ask an "
        "administrator to give you exactly one."
    ),
    "err_oidc_bad_id": N_(
        "The municipality's login gave no pseudonymous staff id (never a CPR number). Contact"
        " an administrator."
    ),
    "err_oidc_local_user": N_(
        "Your id belongs to a local user with a password. Log in with the password."
    ),
    "err_oidc_disabled": N_("Your user is disabled in opsporing. Contact an administrator."),
}


def language_name(lang: Lang) -> str:
    """The name of ``lang`` in itself (CLDR), for the link that switches to it.

    Examples
    --------
    >>> language_name("da"), language_name("en")
    ('Dansk', 'English')
    """
    name = Locale.parse(LANGUAGES[lang]).get_language_name(lang) or lang
    return name[:1].upper() + name[1:]


class UI(Mapping[str, str]):
    """The interface strings in one language; a template reads ``t["key"]``.

    ``switch_lang`` is the name of the other language in that language ("English" on a
    Danish page, "Dansk" on an English one).

    Examples
    --------
    >>> UI("en")["record"]
    'Record decision and store'
    >>> UI("da")["record"]
    'Registrér beslutning og gem'
    >>> UI("da")["switch_lang"], UI("en")["switch_lang"]
    ('English', 'Dansk')
    """

    def __init__(self, lang: Lang) -> None:
        self.lang: Lang = lang

    def __getitem__(self, key: str) -> str:
        if key == "switch_lang":
            return language_name("en" if self.lang == "da" else "da")
        text = translate(_STRINGS[key], self.lang)
        # The municipality's first step is policy (vocabulary.yaml), never restated here.
        if "{municipal_from}" in text or "{own_to}" in text:
            first = load_vocabulary().municipal_assessment_from_step
            text = text.replace("{municipal_from}", str(first)).replace("{own_to}", str(first - 1))
        return text

    def __iter__(self) -> Iterator[str]:
        return iter([*_STRINGS, "switch_lang"])

    def __len__(self) -> int:
        return len(_STRINGS) + 1


def parse_lang(value: object) -> Lang:
    """The page's language: ``"en"`` when asked for English, otherwise Danish (the default).

    Only languages the interface speaks (a catalog, or the source language) are chosen, so a
    page never mixes an interface in one language with texts in another.

    Examples
    --------
    >>> parse_lang("en"), parse_lang(None), parse_lang("fr")
    ('en', 'da', 'da')
    """
    return "en" if value == "en" else "da"
