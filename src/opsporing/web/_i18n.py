"""The words of the web form's own interface, in Danish and English.

Instrument wording, concept labels, staircase steps, bands and the duty-to-notify text come
from the instruments and :mod:`opsporing.vocabulary`; only the interface's own words live here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..vocabulary import Language, load_vocabulary

__all__ = ["UI", "parse_lang"]

#: Interface strings: key -> (Danish, English).
_STRINGS: dict[str, tuple[str, str]] = {
    "app_title": ("Opsporing – skema og beslutning", "Opsporing – form and decision"),
    "skip": ("Spring til indhold", "Skip to content"),
    "switch_lang": ("English", "Dansk"),
    "pick_instrument": ("Vælg et skema", "Choose a form"),
    "pick_intro": (
        "Vælg det skema, du vil udfylde. Skriv aldrig CPR-nummer eller navn: brug et "
        "pseudonymt skema-id.",
        "Choose the form you want to fill in. Never enter a CPR number or a name: use a "
        "pseudonymous form id.",
    ),
    "start": ("Udfyld", "Fill in"),
    "ages": ("Alder", "Ages"),
    "years": ("år", "years"),
    "about_child": ("Om skemaet", "About this form"),
    "form_id": ("Skema-id (pseudonymt)", "Form id (pseudonymous)"),
    "form_id_help": (
        "Et id, som kun jeres egen sag kan koble til barnet, fx “B-2026-041”. "
        "Aldrig CPR-nummer eller navn.",
        "An id that only your own case records can link to the child, e.g. “B-2026-041”. "
        "Never a CPR number or a name.",
    ),
    "age": ("Barnets alder (år)", "The child's age (years)"),
    "not_answered": ("Ikke besvaret", "Not answered"),
    "score_button": ("Beregn og se resultat", "Score and see result"),
    "errors_title": ("Skemaet har fejl", "The form has errors"),
    "errors_intro": (
        "Intet er gemt. Ret felterne herunder og send igen.",
        "Nothing was stored. Correct the fields below and submit again.",
    ),
    "err_cpr": (
        "Det ligner et CPR-nummer. Skriv aldrig CPR-numre her; brug et pseudonymt id.",
        "This looks like a CPR number. Never enter CPR numbers here; use a pseudonymous id.",
    ),
    "err_id": (
        "Skriv 1-64 tegn: bogstaver, tal, punktum, bindestreg eller understregning.",
        "Enter 1-64 characters: letters, digits, dot, hyphen or underscore.",
    ),
    "err_required": ("Skal udfyldes.", "Required."),
    "err_age": ("Skriv alderen som et tal, fx 4 eller 4,5.", "Enter the age as a number, e.g. 4."),
    "err_token": (
        "Skemaet er udløbet eller ugyldigt. Åbn et nyt skema.",
        "The form has expired or is invalid. Open a new form.",
    ),
    "err_choice": ("Vælg en af mulighederne.", "Choose one of the options."),
    "err_number": (
        "Skriv et helt tal fra {low} til {high}.",
        "Enter a whole number from {low} to {high}.",
    ),
    "err_answer_required": (
        "Skal besvares: et tomt svar læses aldrig som “nej”. Vælg “Usikker”, hvis du er i tvivl.",
        "Must be answered: a blank is never read as “no”. Choose “Unsure” if in doubt.",
    ),
    "critical_title": ("Kritiske svar", "Critical answers"),
    "critical_intro": (
        "Disse svar giver mindst gul, uanset summerne. Gør dette nu:",
        "These answers give at least yellow, whatever the sums say. Do this now:",
    ),
    "err_reason": (
        "Skriv en begrundelse: den er påkrævet, når du vælger et andet trin end forslaget "
        "eller går imod et rødt flag.",
        "Give a reason: it is required when you choose another step than the suggestion or "
        "go against a red flag.",
    ),
    "err_reason_no_suggestion": (
        "Skriv en begrundelse: der er intet forslag at følge, så begrundelsen er påkrævet.",
        "Give a reason: there is no suggestion to follow, so the reason is required.",
    ),
    "err_reason_long": ("Højst 2000 tegn.", "At most 2000 characters."),
    "err_conflict": (
        "Dette skema er allerede sendt med andet indhold. Åbn et nyt skema.",
        "This form was already submitted with different content. Open a new form.",
    ),
    "err_age_range": (
        "Alderen skal være fra {low} til {high} år for dette skema.",
        "The age must be from {low} to {high} years for this form.",
    ),
    "err_version": (
        "Skemaet er version {got}, men her findes version {expected}. Åbn et nyt skema.",
        "The form is version {got}, but the version here is {expected}. Open a new form.",
    ),
    "err_invalid": (
        "Ugyldig værdi for dette skema.",
        "Not a valid value for this form.",
    ),
    "result_title": ("Resultat", "Result"),
    "red_flag_title": ("Underretningspligt", "Duty to notify"),
    "red_flag_raised": ("Rødt flag:", "Red flag:"),
    "scores": ("Scorer", "Scores"),
    "domain": ("Område", "Domain"),
    "score": ("Score", "Score"),
    "answered": ("Besvaret", "Answered"),
    "band": ("Farve", "Band"),
    "not_scorable": ("Ikke scoret (for få svar)", "Not scored (too few answers)"),
    "total": ("Samlet score", "Total"),
    "overall": ("Samlet vurdering", "Overall band"),
    "concerns": ("Bekymringer", "Concerns"),
    "protective": ("Beskyttende faktorer", "Protective factors"),
    "none": ("Ingen", "None"),
    "suggestion": ("Forslag fra modellen", "The model's suggestion"),
    "suggestion_note": (
        "Et forslag er beslutningsstøtte. Du beslutter; forslaget gør intet af sig selv.",
        "A suggestion is decision support. You decide; the suggestion does nothing by itself.",
    ),
    "no_model": ("Ingen model tilgængelig", "No model available"),
    "no_model_text": (
        "Der er ingen forslagsmodel installeret. Træf beslutningen ud fra scorerne, "
        "jeres faglige vurdering og samtalen med forældrene.",
        "No suggestion model is installed. Decide from the scores, your professional "
        "judgment and the conversation with the parents.",
    ),
    "suggested_step": ("Foreslået trin", "Suggested step"),
    "what_would_change": ("Hvad ville ændre forslaget", "What would change the suggestion"),
    "model_failed": (
        "Modellen kunne ikke give et forslag til dette skema (se serverens log).",
        "The model could not make a suggestion for this form (see the server's log).",
    ),
    "notify_headline": (
        "Rødt flag: følg underretningspligten nu (barnets lov § 133)",
        "Red flag: follow the duty to notify now (Children's Act § 133)",
    ),
    "notify_detail": (
        "Modellen bruges ikke, når et rødt flag er rejst. Forslaget er at underrette kommunen.",
        "The model is not used when a red flag is raised. The suggestion is to notify the "
        "municipality.",
    ),
    "municipal_note": (
        "Trinnet kræver kommunens egen vurdering (barnets lov §§ 18-20): dagtilbud og skole "
        "handler på trin 0-{own_to} og underretter eller henviser.",
        "This step needs the municipality's own assessment (Children's Act §§ 18-20): daycare "
        "and school act on steps 0-{own_to} and notify or refer.",
    ),
    "p_needs": (
        "Sandsynlighed for behov ud over almene tilbud",
        "Probability of needing more than universal services",
    ),
    "interval": ("Usikkerhed: trin {lo}-{hi}", "Uncertainty: steps {lo}-{hi}"),
    "up": ("trækker op", "pushes up"),
    "down": ("trækker ned", "pushes down"),
    "abstained": ("Modellen giver intet forslag", "The model gives no suggestion"),
    "probabilities": ("Sandsynligheder", "Probabilities"),
    "step": ("Trin", "Step"),
    "probability": ("Sandsynlighed", "Probability"),
    "reasons": ("Begrundelser", "Reasons"),
    "plot_alt": ("Forklaringsplot for forslaget", "Explanation plot of the suggestion"),
    "who_acts": ("Hvem handler", "Who acts"),
    "decision": ("Din beslutning", "Your decision"),
    "decision_intro": (
        "Intet gemmes, før du har registreret en beslutning. Skemaet og beslutningen gemmes "
        "sammen.",
        "Nothing is stored until you record a decision. The form and the decision are stored "
        "together.",
    ),
    "chosen_step": ("Valgt trin på indsatstrappen", "Chosen step on the staircase"),
    "reason": ("Begrundelse", "Reason"),
    "notify": (
        "Jeg underretter kommunen / henviser barnet til kommunen",
        "I notify the municipality / refer the child to the municipality",
    ),
    "notify_help": (
        "Et rødt flag følges ved at underrette. Trin {municipal_from}-6 besluttes af kommunens "
        "myndighed; "
        "andre vælger det trin, de selv handler på (0-{own_to}), og underretter eller henviser.",
        "A red flag is followed by notifying. Steps {municipal_from}-6 are decided by the "
        "municipality; "
        "others choose the step they act on themselves (0-{own_to}) and notify or refer.",
    ),
    "err_municipal": (
        "Trin {municipal_from}-6 kræver kommunens egen vurdering. Vælg det trin, du selv "
        "handler på (0-{own_to}), "
        "og markér underretning/henvisning.",
        "Steps {municipal_from}-6 need the municipality's own assessment. Choose the step you "
        "act on (0-{own_to}) and tick notify/refer.",
    ),
    "err_suggestion_changed": (
        "Forslaget er ændret, siden siden blev vist. Se det nye forslag og beslut igen.",
        "The suggestion changed since the page was shown. Review it and decide again.",
    ),
    "reason_help": (
        "Påkrævet, når du ikke følger forslaget: et andet trin end det foreslåede, eller ingen "
        "underretning ved et rødt flag.",
        "Required when you do not follow the suggestion: another step than the suggested one, "
        "or no notification when a red flag is raised.",
    ),
    "reason_always": (
        "Påkrævet: der er intet foreslået trin at følge, så skriv kort, hvorfor du vælger "
        "dette trin.",
        "Required: there is no suggested step to follow, so say briefly why you choose this step.",
    ),
    "record": ("Registrér beslutning og gem", "Record decision and store"),
    "saved_title": ("Gemt", "Stored"),
    "saved_text": (
        "Skemaet og beslutningen er gemt i revisionssporet.",
        "The form and the decision are stored in the audit log.",
    ),
    "screening_no": ("Screening nr.", "Screening no."),
    "decision_no": ("Beslutning nr.", "Decision no."),
    "stored_at": ("Gemt", "Stored at"),
    "duplicate": (
        "Skemaet var allerede gemt; det er ikke gemt igen.",
        "This form was already stored; it was not stored again.",
    ),
    "new_form": ("Udfyld et nyt skema", "Fill in a new form"),
    "notified": ("Underretter/henviser til kommunen", "Notifies/refers to the municipality"),
    "yes": ("Ja", "Yes"),
    "no": ("Nej", "No"),
    "not_found": ("Ikke fundet", "Not found"),
    "login_title": ("Log ind", "Log in"),
    "login_intro": (
        "Log ind med dit medarbejder-id. Beslutninger registreres under dit id og din rolle.",
        "Log in with your staff id. Decisions are recorded under your id and your role.",
    ),
    "username": ("Medarbejder-id", "Staff id"),
    "password": ("Adgangskode", "Password"),
    "login_button": ("Log ind", "Log in"),
    "logout_button": ("Log ud", "Log out"),
    "logged_out": ("Du er logget ud.", "You are logged out."),
    "logged_in_as": ("Logget ind som", "Logged in as"),
    "err_login": (
        "Forkert medarbejder-id eller adgangskode.",
        "Wrong staff id or password.",
    ),
    "err_login_blocked": (
        "For mange forkerte forsøg. Vent et kvarter, eller kontakt en administrator.",
        "Too many failed attempts. Wait a quarter of an hour, or contact an administrator.",
    ),
    "forbidden_title": ("Ikke tilladt", "Not allowed"),
    "err_csrf": (
        "Siden er udløbet, eller formularen kom ikke fra denne side. Intet er gemt. "
        "Åbn siden igen og send på ny.",
        "The page has expired, or the form did not come from this site. Nothing was stored. "
        "Open the page again and submit anew.",
    ),
    "err_not_yours": (
        "Du kan kun se kvitteringer for de beslutninger, du selv har registreret.",
        "You can only see the receipts of the decisions you recorded yourself.",
    ),
    "err_cannot_decide": (
        "Din rolle registrerer ikke beslutninger.",
        "Your role does not record decisions.",
    ),
    "recorded_by": ("Registreret af", "Recorded by"),
    "oidc_or": ("Eller:", "Or:"),
    "oidc_done_title": ("Du er logget ind", "You are logged in"),
    "oidc_continue": ("Fortsæt", "Continue"),
    "oidc_refused_title": ("Login afvist", "Login refused"),
    "err_oidc_state": (
        "Login er udløbet, eller det blev ikke startet i denne browser. Start forfra.",
        "The login has expired, or it was not started in this browser. Start again.",
    ),
    "err_oidc_provider": (
        "Kommunens login svarede ikke som forventet. Prøv igen, eller kontakt en administrator.",
        "The municipality's login did not answer as expected. Try again, or contact an "
        "administrator.",
    ),
    "err_oidc_token": (
        "Svaret fra kommunens login kunne ikke bekræftes. Intet er gemt. Start forfra.",
        "The answer of the municipality's login could not be verified. Nothing was stored. "
        "Start again.",
    ),
    "err_oidc_no_role": (
        "Din bruger hos kommunens login har ingen rolle i opsporing. Bed en administrator "
        "om at give dig en rolle.",
        "Your user at the municipality's login has no role in opsporing. Ask an "
        "administrator to give you one.",
    ),
    "err_oidc_ambiguous_role": (
        "Din bruger hos kommunens login har mere end én rolle i opsporing. Bed en "
        "administrator om at give dig præcis én.",
        "Your user at the municipality's login has more than one role in opsporing. Ask an "
        "administrator to give you exactly one.",
    ),
    "err_oidc_bad_id": (
        "Kommunens login gav intet pseudonymt medarbejder-id (aldrig et CPR-nummer). "
        "Kontakt en administrator.",
        "The municipality's login gave no pseudonymous staff id (never a CPR number). "
        "Contact an administrator.",
    ),
    "err_oidc_local_user": (
        "Dit id tilhører en lokal bruger med adgangskode. Log ind med adgangskoden.",
        "Your id belongs to a local user with a password. Log in with the password.",
    ),
    "err_oidc_disabled": (
        "Din bruger er spærret i opsporing. Kontakt en administrator.",
        "Your user is disabled in opsporing. Contact an administrator.",
    ),
}


class UI(Mapping[str, str]):
    """The interface strings in one language; a template reads ``t["key"]``.

    Examples
    --------
    >>> UI("en")["record"]
    'Record decision and store'
    >>> UI("da")["record"]
    'Registrér beslutning og gem'
    """

    def __init__(self, lang: Language) -> None:
        self.lang: Language = lang
        self._index = 1 if lang == "en" else 0

    def __getitem__(self, key: str) -> str:
        # The municipality's first step is policy (vocabulary.yaml), never restated here.
        text = _STRINGS[key][self._index]
        if "{municipal_from}" in text or "{own_to}" in text:
            first = load_vocabulary().municipal_assessment_from_step
            text = text.replace("{municipal_from}", str(first)).replace("{own_to}", str(first - 1))
        return text

    def __iter__(self) -> Iterator[str]:
        return iter(_STRINGS)

    def __len__(self) -> int:
        return len(_STRINGS)


def parse_lang(value: object) -> Language:
    """``"en"`` when asked for English, otherwise Danish (the default).

    Examples
    --------
    >>> parse_lang("en"), parse_lang(None), parse_lang("fr")
    ('en', 'da', 'da')
    """
    return "en" if value == "en" else "da"
