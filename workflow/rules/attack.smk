ATTACK_INPUT = {
    "split": rules.split.output[0],
    "base": rules.base_eval.output[0],
    "result": rules.unlearn.output.result,
    "checkpoint": attack_checkpoint,
}


rule attack_harmful:
    """Retrain on ⌈p·n⌉ of the n wrongly answered forget items; FS and log-prob curves on the rest (§6.2.2)."""
    input:
        **ATTACK_INPUT,
    output:
        P("harmful"),
    log:
        f"{W}/logs/attack/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}/harmful_p{{p}}_lr{{lr}}_run{{run}}.log",
    benchmark:
        f"{W}/benchmarks/attack_harmful/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}/p{{p}}_lr{{lr}}_run{{run}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(runtime=120),
    params:
        ssiuu=SSIUU,
        settings=config["attacks"]["harmful"],
    shell:
        "{params.ssiuu} attack --kind harmful --p {wildcards.p} --lr {wildcards.lr} --run {wildcards.run} "
        "--benchmark {wildcards.benchmark} --model {wildcards.model} --method {wildcards.method} "
        "--seed {wildcards.seed} --checkpoint {input.checkpoint} --split {input.split} "
        "--unlearn-result {input.result} --base-result {input.base} --out {output} > {log} 2>&1"


rule attack_benign:
    """Retrain on benign instruction data; FS and log-prob curves on the wrongly answered forget items (§6.2.2)."""
    input:
        **ATTACK_INPUT,
    output:
        P("benign"),
    log:
        f"{W}/logs/attack/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}/benign_lr{{lr}}_run{{run}}.log",
    benchmark:
        f"{W}/benchmarks/attack_benign/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}/lr{{lr}}_run{{run}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(runtime=120),
    params:
        ssiuu=SSIUU,
        settings=config["attacks"]["benign"],
    shell:
        "{params.ssiuu} attack --kind benign --lr {wildcards.lr} --run {wildcards.run} "
        "--benchmark {wildcards.benchmark} --model {wildcards.model} --method {wildcards.method} "
        "--seed {wildcards.seed} --checkpoint {input.checkpoint} --split {input.split} "
        "--unlearn-result {input.result} --base-result {input.base} --out {output} > {log} 2>&1"
