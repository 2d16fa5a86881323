# The erase-or-hide card (docs/card.md): its tests on every brought checkpoint (config `checkpoints`) and on the
# methods of `card.methods`, beside the starting model and the controls. Target `card`; not in the default run.
from ssiuu.card import card_test_names
from ssiuu.card.checkpoints import check_checkpoint_dir, check_checkpoints

BROUGHT = config["checkpoints"]
check_checkpoints(config, reserved=lambda_variants())
#: one model's card test files, wildcards {benchmark} {model} {method} {seed} left open
CARD_TEST_FILES = [P("card_test", test=test) for test in card_test_names(config)]
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


rule card_tests:
    """The card's tests on one model (a brought checkpoint, a method's or a control): no attack, quantization,
    in-context relearning and the linear probe, one per-item result file each."""
    input:
        split=rules.split.output[0],
        # a brought checkpoint's directory must hold config.json and weights (one line naming the entry if not)
        checkpoint=lambda wc: (
            str(check_checkpoint_dir(wc.method, BROUGHT[wc.method]["path"]))
            if wc.method in BROUGHT
            else attack_checkpoint(wc)
        ),
        start=start_model,
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
        **torch_resources(runtime=60),
    params:
        ssiuu=SSIUU,
        settings={key: value for key, value in config["card"].items() if key != "methods"},
        brought=lambda wc: BROUGHT.get(wc.method),
    shell:
        "{params.ssiuu} card-tests --benchmark {wildcards.benchmark} --model {wildcards.model} "
        "--method {wildcards.method} --seed {wildcards.seed} --model-dir {input.checkpoint} "
        "--split {input.split} --start-dir {input.start} --out {output} > {log} 2>&1"


rule card_page:
    """One model's card (Markdown): each test's score beside the starting model, the known eraser and the known
    hider, with intervals and n, and the verdicts of ssiuu/card/render.py's rule."""
    input:
        lambda wc: [
            P("card_test", benchmark=wc.benchmark, model=wc.model, method=x, seed=s, test=test)
            for x, s in [(wc.method, wc.seed)] + [(c, seeds_of(c)[0]) for c in controls(wc.benchmark)]
            for test in card_test_names(config)
        ],
    output:
        P("card"),
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
    shell:
        "{params.ssiuu} card --benchmark {wildcards.benchmark} --model {wildcards.model} "
        "--method {wildcards.method} --seed {wildcards.seed} --results {input} --out {output} > {log} 2>&1"


localrules:
    card,


rule card:
    """The erase-or-hide cards (`snakemake card`; docs/card.md): one per brought checkpoint and per method of
    card.methods, under results/cards/. Not in the default run."""
    input:
        [P("card", **subject) for subject in CARD_SUBJECTS],
