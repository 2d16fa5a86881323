rule unlearn:
    """Unlearn with one method and seed: learning-rate search from the lowest, early stop at the threshold."""
    input:
        split=rules.split.output[0],
        model=start_model,
        base=rules.base_eval.output[0],
    output:
        result=P("unlearn"),
        checkpoint=directory(P("checkpoint")),
    log:
        f"{W}/logs/unlearn/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"{W}/benchmarks/unlearn/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(mem_mb=16000, runtime=240),
    params:
        ssiuu=SSIUU,
        settings=unlearn_settings,
    shell:
        "{params.ssiuu} unlearn --benchmark {wildcards.benchmark} --model {wildcards.model} "
        "--method {wildcards.method} --seed {wildcards.seed} --model-dir {input.model} "
        "--split {input.split} --base {input.base} --out {output.result} "
        "--checkpoint {output.checkpoint} > {log} 2>&1"


rule reference_eval:
    """Evaluate an attack reference (ssiuu/references.py) into an unlearn.json of its own."""
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
        method="|".join(REFERENCE_METHODS.values()),
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(runtime=60),
    params:
        ssiuu=SSIUU,
    shell:
        "{params.ssiuu} reference-eval --benchmark {wildcards.benchmark} --model {wildcards.model} "
        "--method {wildcards.method} --seed {wildcards.seed} --model-dir {input.model} "
        "--split {input.split} --base {input.base} --out {output.result} > {log} 2>&1"


ruleorder: reference_eval > unlearn
