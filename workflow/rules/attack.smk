ATTACK_INPUT = {
    "split": rules.split.output[0],
    "base": rules.base_eval.output[0],
    "result": rules.unlearn.output.result,
    "checkpoint": attack_checkpoint,
}


rule attack_harmful:
    """Retrain on ⌈p·n⌉ of the n wrongly answered forget items; FS and log-prob curves on the rest (§6.2.2).

    One job per checkpoint and learning rate runs every (p, run) draw in one process, one file per draw."""
    input:
        **ATTACK_INPUT,
    output:
        [P("harmful", p=p, run=r) for p in HARMFUL_P for r in RUNS],
    log:
        f"{W}/logs/attack/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}/harmful_lr{{lr}}.log",
    benchmark:
        f"{W}/benchmarks/attack_harmful/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}/lr{{lr}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(runtime=120 * len(HARMFUL_P) * len(RUNS)),
    params:
        ssiuu=SSIUU,
        settings=attack_settings("harmful"),
    shell:
        "{params.ssiuu} attack --kind harmful "
        "--benchmark {wildcards.benchmark} --model {wildcards.model} --method {wildcards.method} "
        "--seed {wildcards.seed} --checkpoint {input.checkpoint} --split {input.split} "
        "--unlearn-result {input.result} --base-result {input.base} --out {output} > {log} 2>&1"


rule attack_benign:
    """Retrain on benign instruction data; FS and log-prob curves on the wrongly answered forget items (§6.2.2).

    One job per checkpoint and learning rate runs every run's draw in one process, one file per draw."""
    input:
        **ATTACK_INPUT,
    output:
        [P("benign", run=r) for r in RUNS],
    log:
        f"{W}/logs/attack/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}/benign_lr{{lr}}.log",
    benchmark:
        f"{W}/benchmarks/attack_benign/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}/lr{{lr}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(runtime=120 * len(RUNS)),
    params:
        ssiuu=SSIUU,
        settings=attack_settings("benign"),
    shell:
        "{params.ssiuu} attack --kind benign "
        "--benchmark {wildcards.benchmark} --model {wildcards.model} --method {wildcards.method} "
        "--seed {wildcards.seed} --checkpoint {input.checkpoint} --split {input.split} "
        "--unlearn-result {input.result} --base-result {input.base} --out {output} > {log} 2>&1"


rule calibrate_harmful:
    """The calibration sweep's harmful draws (Fig. 7b, c): the harmful attack at one learning rate, run for
    analysis.attack_calibration.harmful.epochs with an evaluation after every epoch."""
    input:
        **ATTACK_INPUT,
    output:
        [P("calibration_harmful", p=CALIBRATION["harmful"]["fraction"], run=r) for r in CALIBRATION_RUNS],
    log:
        f"{W}/logs/calibration/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}/harmful_lr{{lr}}.log",
    benchmark:
        f"{W}/benchmarks/calibrate_harmful/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}/lr{{lr}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(runtime=60 * len(CALIBRATION_RUNS) * CALIBRATION["harmful"]["epochs"]),
    params:
        ssiuu=SSIUU,
        settings=attack_settings("harmful"),
        calibration={k: CALIBRATION["harmful"][k] for k in ("fraction", "epochs")},
    shell:
        "{params.ssiuu} attack --calibration --kind harmful "
        "--benchmark {wildcards.benchmark} --model {wildcards.model} --method {wildcards.method} "
        "--seed {wildcards.seed} --checkpoint {input.checkpoint} --split {input.split} "
        "--unlearn-result {input.result} --base-result {input.base} --out {output} > {log} 2>&1"


rule calibrate_benign:
    """The calibration sweep's benign draws (Fig. 7b, c): the benign attack at one learning rate, run for
    analysis.attack_calibration.benign.epochs with an evaluation after every epoch."""
    input:
        **ATTACK_INPUT,
    output:
        [P("calibration_benign", run=r) for r in CALIBRATION_RUNS],
    log:
        f"{W}/logs/calibration/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}/benign_lr{{lr}}.log",
    benchmark:
        f"{W}/benchmarks/calibrate_benign/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}/lr{{lr}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(runtime=60 * len(CALIBRATION_RUNS) * CALIBRATION["benign"]["epochs"]),
    params:
        ssiuu=SSIUU,
        settings=attack_settings("benign"),
        calibration={"epochs": CALIBRATION["benign"]["epochs"]},
    shell:
        "{params.ssiuu} attack --calibration --kind benign "
        "--benchmark {wildcards.benchmark} --model {wildcards.model} --method {wildcards.method} "
        "--seed {wildcards.seed} --checkpoint {input.checkpoint} --split {input.split} "
        "--unlearn-result {input.result} --base-result {input.base} --out {output} > {log} 2>&1"
