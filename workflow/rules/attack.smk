ATTACK_INPUT = {
    "split": rules.split.output[0],
    "result": rules.unlearn.output.result,
    "checkpoint": rules.unlearn.output.checkpoint,
}


rule attack_harmful:
    """Retrain on a fraction p of the wrongly answered forget items; FS curve on the rest (paper §6.2.2)."""
    input:
        **ATTACK_INPUT,
    output:
        f"{R}/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}/attacks/harmful_p{{p}}_lr{{lr}}_run{{run}}.json",
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
        "--unlearn-result {input.result} --out {output} > {log} 2>&1"


rule attack_benign:
    """Retrain on benign instruction data; FS curve on the whole forget set (paper §6.2.2)."""
    input:
        **ATTACK_INPUT,
    output:
        f"{R}/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}/attacks/benign_lr{{lr}}_run{{run}}.json",
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
        "--unlearn-result {input.result} --out {output} > {log} 2>&1"
