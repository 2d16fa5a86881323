rule unlearn:
    """Unlearn with one method and seed: learning-rate search from the lowest, early stop at the threshold."""
    input:
        split=rules.split.output[0],
        model=start_model,
        base=rules.base_eval.output[0],
    output:
        result=P("unlearn"),
        checkpoint=saved_model(P("checkpoint")),
    log:
        f"{W}/logs/unlearn/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"{W}/benchmarks/unlearn/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(mem_mb=16000),
    params:
        ssiuu=SSIUU,
        settings=unlearn_settings,
    shell:
        "{params.ssiuu} unlearn --benchmark {wildcards.benchmark} --model {wildcards.model} "
        "--method {wildcards.method} --seed {wildcards.seed} --model-dir {input.model} "
        "--split {input.split} --base {input.base} --out {output.result} "
        "--checkpoint {output.checkpoint} > {log} 2>&1"


rule reference_eval:
    """Evaluate a reference model (Start, NeverLearned: ssiuu/references.py) into an unlearn.json of its own, at
    REFERENCE_SEED only (it does not depend on the unlearning seed)."""
    input:
        split=rules.split.output[0],
        model=attack_checkpoint,
        base=rules.base_eval.output[0],
    output:
        result=P("unlearn"),
    log:
        f"{W}/logs/reference_eval/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"{W}/benchmarks/reference_eval/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}.tsv"
    wildcard_constraints:
        method="|".join(sorted({x for refs in REFERENCE_MODELS.values() for x in refs})),
        seed=str(REFERENCE_SEED),
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(),
    params:
        ssiuu=SSIUU,
    shell:
        "{params.ssiuu} reference-eval --benchmark {wildcards.benchmark} --model {wildcards.model} "
        "--method {wildcards.method} --seed {wildcards.seed} --model-dir {input.model} "
        "--split {input.split} --base {input.base} --out {output.result} > {log} 2>&1"


ruleorder: reference_eval > unlearn
