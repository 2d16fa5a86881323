# The erase-or-hide card (docs/card.md): its tests on every brought checkpoint (config `checkpoints`) and on the
# methods of `card.methods`, beside the starting model and the controls. In the default run; target `card` alone.
# The pages and overviews are built aside and replace the published ones only when built (report.smk: nothing lost).
from ssiuu.card import card_test_names
from ssiuu.card.checkpoints import brought_dir, check_checkpoints, own_start_dir, start_control

BROUGHT = config["checkpoints"]
check_checkpoints(config, reserved=lambda_variants())
#: one model's card test files, wildcards {benchmark} {model} {method} {seed} left open
CARD_TEST_FILES = [P("card_test", test=test) for test in card_test_names(config)]
#: the HTML report's section of the cards (`snakemake card --report FILE`)
CARD_CATEGORY = "Erase-or-hide cards"
#: the models that get a card: the brought checkpoints (at the references' seed) and card.methods at the first seed
CARD_SUBJECTS = [
    {"benchmark": entry["benchmark"], "model": entry["model"], "method": name, "seed": REFERENCE_SEED}
    for name, entry in BROUGHT.items()
] + [
    {"benchmark": b, "model": m, "method": x, "seed": SEEDS[0]}
    for b in BENCHMARKS
    for m in MODELS
    for x in config["card"]["methods"]
]
#: the (benchmark, model) pairs with a card: each gets an overview of its cards (rule card_overview)
CARD_PAIRS = list(dict.fromkeys((s["benchmark"], s["model"]) for s in CARD_SUBJECTS))


rule card_tests:
    """The card's tests on one model (a brought checkpoint or its own starting model, a method's or a control): no
    attack, quantization, in-context relearning, the linear probe and the logit lens, one per-item result file
    each."""
    input:
        split=rules.split.output[0],
        # brought weights (an entry's path, or its own start) must be a directory with config.json and weights (one
        # line naming the entry if not)
        checkpoint=lambda wc: brought_dir(BROUGHT, wc.method) or attack_checkpoint(wc),
        start=lambda wc: own_start_dir(BROUGHT, wc.method) or start_model(wc),
    output:
        CARD_TEST_FILES,
    log:
        f"{W}/logs/card_tests/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"{W}/benchmarks/card_tests/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}.tsv"
    wildcard_constraints:
        method=layout.PLAIN_METHOD,
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(),
    params:
        ssiuu=SSIUU,
        settings={key: value for key, value in config["card"].items() if key != "methods"},
        brought=lambda wc: BROUGHT.get(wc.method),
    shell:
        "{params.ssiuu} card-tests --benchmark {wildcards.benchmark} --model {wildcards.model} "
        "--method {wildcards.method} --seed {wildcards.seed} --model-dir {input.checkpoint} "
        "--split {input.split} --start-dir {input.start} --out {output} > {log} 2>&1"


rule card_page:
    """One model's card (Markdown) and its figure (PNG): each test's score beside the starting model (a brought
    checkpoint's own `start` where it names one), the known eraser and the known hider, with intervals and n, and
    the verdicts of ssiuu/card/render.py's rule."""
    input:
        card_page_inputs,
    output:
        md=update(
            report(
                P("card"),
                caption="../report/card.rst",
                category=CARD_CATEGORY,
                subcategory="{benchmark}, {model}",
                labels={"unlearned model": "{method} (seed {seed})", "page": "card"},
            )
        ),
        png=update(
            report(
                P("card_figure"),
                caption="../report/card_figure.rst",
                category=CARD_CATEGORY,
                subcategory="{benchmark}, {model}",
                labels={"unlearned model": "{method} (seed {seed})", "page": "figure"},
            )
        ),
    log:
        f"{W}/logs/card/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        ssiuu=SSIUU,
        settings={k: config["attacks"][k] for k in ("confidence_level", "bootstrap_resamples")},
        label=lambda wc: BROUGHT.get(wc.method),
        caption=CAPTION,
        aside=lambda wc: aside(f"card/{wc.benchmark}/{wc.model}/{wc.method}/seed{wc.seed}"),
    shell:
        built_aside(
            "{params.ssiuu} card --benchmark {wildcards.benchmark} --model {wildcards.model} "
            "--method {wildcards.method} --seed {wildcards.seed} --results {input} "
            "--out {params.aside}/seed{wildcards.seed}.md --figure {params.aside}/seed{wildcards.seed}.png"
        )


rule card_overview:
    """Every card of one benchmark and model at a glance: a table of every model's scores (the controls, then each
    model with a card) on every test, with their cards' verdicts, and a figure (ssiuu/card/overview.py)."""
    input:
        card_overview_inputs,
    output:
        md=update(
            report(
                P("card_overview"),
                caption="../report/card_overview.rst",
                category=CARD_CATEGORY,
                subcategory="{benchmark}, {model}",
                labels={"unlearned model": "all", "page": "overview"},
            )
        ),
        png=update(
            report(
                P("card_overview_figure"),
                caption="../report/card_overview.rst",
                category=CARD_CATEGORY,
                subcategory="{benchmark}, {model}",
                labels={"unlearned model": "all", "page": "overview figure"},
            )
        ),
    log:
        f"{W}/logs/card_overview/{{benchmark}}/{{model}}.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        ssiuu=SSIUU,
        settings={k: config["attacks"][k] for k in ("confidence_level", "bootstrap_resamples")},
        caption=CAPTION,
        aside=lambda wc: aside(f"card_overview/{wc.benchmark}/{wc.model}"),
    shell:
        built_aside(
            "{params.ssiuu} card-overview --benchmark {wildcards.benchmark} --model {wildcards.model} "
            "--results {input} --out {params.aside}/overview.md --figure {params.aside}/overview.png"
        )


localrules:
    card,


rule card:
    """The erase-or-hide cards (`snakemake card`; docs/card.md): one per brought checkpoint and per method of
    card.methods, under results/cards/, each with its figure, and per benchmark and model an overview of its cards.
    The default run builds them too, and its report shows them as a section; `snakemake card --report FILE` shows
    the cards alone."""
    input:
        [P(kind, **subject) for subject in CARD_SUBJECTS for kind in ("card", "card_figure")],
        [
            P(kind, benchmark=b, model=m)
            for b, m in CARD_PAIRS
            for kind in ("card_overview", "card_overview_figure")
        ],
