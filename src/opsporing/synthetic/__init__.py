"""A synthetic population of children whose true staircase step is known.

Models are trained and evaluated here on data whose truth we know, so a researcher
can measure how close any model comes to the best possible: :func:`oracle_proba`
gives the exact P(step | what was observed) under the generator. **These are not
real children**; no record describes a real person.

The generative story (every number below is a documented default; the knobs are
fields of :class:`SyntheticConfig`, the constants live in ``_model.py``):

1. **Child.** Municipality ``K01``… (14, lognormal sizes), setting (35 % daycare,
   age U[0.5, 6); 65 % school, age U[6, 16]), sex (49 % girls; no effect), and family
   background ``dansk`` 80 % / ``efterkommer`` 12 % / ``indvandrer`` 8 % (evaluation
   group only).
2. **Latent state.** Family strain F ~ N(μ_g + drift, 1) with μ_g = 0, 0.15, 0.25 per
   group; given F, independently: own difficulties D ~ N(drift + 0.45 (F - drift),
   1 - 0.45²), protective resources R ~ N(-0.5 (F - drift), 1 - 0.5²), acute-risk
   propensity S* ~ N(0.5 (F - drift), 1 - 0.5²). Acute safety risk is present when
   S* > 2.62 (about 0.47 % of children).
   **Waves** k = 0 .. c (3 by default, c the current one, a year apart; age and setting
   at each). Own difficulties change through **episodes**: a two-state Markov chain E_k
   over all waves (start 5 %, onset 4 %, 10 % at the move to school, recovery 35 %),
   independent of everything, D_k = D + 1.2 E_k - drift·(c - k), F_k = F - drift·(c - k).
3. **Ground truth** per wave. Step index = 0.75 D_k + 0.75 F_k + 2.5 acute +
   prevalence_shift + 0.85 ε, one ε ~ N(0, 1) per child shared by its waves
   (irreducible noise); the true step counts the fixed thresholds it reaches
   (``STEP_THRESHOLDS``; the calibration targets per 1,000 children are 950, 20, 12, 8,
   3, 5, 2 on steps 0-6).
4. **Screenings.** Every child has an educator's form at the current wave; a child
   followed (50 %) also has one at every earlier wave it was 0.5 or older (in the
   setting it was then in). Which form is ``select_instrument(setting, age)``
   (``instruments/forms.yaml``: one form per age band). Each form is filled in by a rater
   drawn from a pool per municipality, setting and wave (about 20 forms each), whose
   harshness h is mild, typical or harsh (-√3σ, 0, +√3σ with probabilities 1/6, 2/3,
   1/6; σ = 0.3). Beside each educator's form: a parent form (70 %) and, at school, the
   child's own form (80 %), each with its own harshness (σ = 0.4) and the informant's
   effects on the items (``INFORMANT_EFFECTS``), no group bias.
5. **Answers**, derived from each form's instrument file. Ordinal items: graded
   response (ordered logit, k - 1 thresholds for k options): emotional, social,
   behaviour and development items are driven by D, care items by F, resource items
   by -R, each in its concern direction (reverse-keyed and strength items answered the
   other way round); rated concern items see D_k or F_k shifted by ``h + bias·[group =
   rater_bias_against]`` (the bias for educators only). Safety items (Nej / Ja or Nej /
   Usikker / Ja) depend on acute risk only: "Ja" with probability 0.30 with acute risk,
   0.0005 without; "Usikker" 0.35 and 0.002. Number items (days absent): a censored
   negative-binomial count given D_k. Every answer is missing with probability
   logistic(logit(3 %) + log odds_g + 0.3 F), odds 1, 1.5, 2.5 per group, except the
   items of a required domain (never blank). All answers are independent given (latent
   state, group, rater).

The oracle conditions on every answer and missing answer of each form of the child
(educator, parent and child forms of every wave up to the target wave, or of the
informants asked for), and on its age; it integrates out the latent state (grid
quadrature), the family background (mixture with the population shares), each form's
harshness (three-point mixture) and the episode path (a forward recursion over the
waves). See ``docs/synthetic.md``.

Examples
--------
>>> from opsporing.synthetic import SyntheticConfig, generate, oracle_proba, STEP_COLUMNS
>>> pop = generate(SyntheticConfig(n_children=500, seed=11), progress=False)
>>> sorted(pop.forms), pop.children["child_id"].str.fullmatch(r"C\\d{7}").all()
(['child', 'dagtilbud', 'parent', 'skole'], np.True_)
>>> proba = oracle_proba(pop)
>>> list(proba.columns) == list(STEP_COLUMNS), len(proba)
(True, 500)
"""

from ._config import GROUPS, REFERENCE_YEAR, SyntheticConfig
from ._generate import generate
from ._model import FORM_TABLES, INFORMANT_OF_TABLE, SETTINGS, STEP_COLUMNS
from ._oracle import oracle_proba, population_step_distribution
from ._population import SyntheticPopulation, load_default

__all__ = [
    "FORM_TABLES",
    "GROUPS",
    "INFORMANT_OF_TABLE",
    "REFERENCE_YEAR",
    "SETTINGS",
    "STEP_COLUMNS",
    "SyntheticConfig",
    "SyntheticPopulation",
    "generate",
    "load_default",
    "oracle_proba",
    "population_step_distribution",
]
