"""The shipped model is chosen on validation figures by one written rule."""

from __future__ import annotations

from fer_lightning import zoo
from fer_lightning.results import default_choice
from fer_lightning.results.card import markdown
from fer_lightning.results.default_choice import Candidate, choose


def _c(name: str, val: float, drop: float, test: float = 0.5) -> Candidate:
    return Candidate(name, val, drop, "blur_1", test, None, None)


def test_the_rule_prefers_the_sturdier_model_among_the_accurate_ones() -> None:
    sturdy = _c("sturdy", 0.690, 0.04)
    fragile = _c("fragile", 0.692, 0.30, test=0.9)  # a better test score must not matter
    weak = _c("weak", 0.680, 0.01)  # sturdiest, but 1.2 points below the best on validation
    assert choose([fragile, sturdy, weak]) == sturdy
    assert choose([fragile, weak]) == fragile
    assert choose([_c("b", 0.69, 0.1), _c("a", 0.69, 0.1)]).name == "a"
    assert choose([]) is None


def test_the_shipped_model_is_the_one_the_rule_chooses_from_the_published_records() -> None:
    found = default_choice.candidates()
    chosen = choose(found)
    shipped = zoo.default()
    assert chosen is not None and shipped is not None
    assert chosen.name == shipped.name, f"the rule chooses {chosen.name}"
    card = markdown(shipped)
    assert "## Why this model is the default" in card
    assert f"| `{chosen.name}` (default) |" in card
