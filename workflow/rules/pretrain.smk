rule pretrain:
    """TOFU-style pre-finetuning on the whole benchmark (forget + retain), before unlearning."""
    input:
        split=rules.split.output[0],
        model=rules.prepare_model.output[0],
    output:
        model=directory(f"{W}/models/{{model}}/pretrained-{{benchmark}}"),
        metrics=f"{R}/{{benchmark}}/{{model}}/pretrain.json",
    log:
        f"{W}/logs/pretrain/{{benchmark}}/{{model}}.log",
    benchmark:
        f"{W}/benchmarks/pretrain/{{benchmark}}/{{model}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(runtime=240),
    params:
        ssiuu=SSIUU,
        settings=lambda wc: config["benchmarks"][wc.benchmark]["pretrain"],
    shell:
        "{params.ssiuu} pretrain --benchmark {wildcards.benchmark} --model {wildcards.model} "
        "--model-dir {input.model} --split {input.split} --out {output.model} "
        "--metrics {output.metrics} > {log} 2>&1"


rule pretrain_never_learned:
    """The never-learned control (TOFU's retain model): pre-finetuning on the retain set only."""
    input:
        split=rules.split.output[0],
        model=rules.prepare_model.output[0],
    output:
        model=directory(f"{W}/models/{{model}}/neverlearned-{{benchmark}}"),
        metrics=f"{R}/{{benchmark}}/{{model}}/pretrain_neverlearned.json",
    log:
        f"{W}/logs/pretrain/{{benchmark}}/{{model}}-neverlearned.log",
    benchmark:
        f"{W}/benchmarks/pretrain_never_learned/{{benchmark}}/{{model}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(runtime=240),
    params:
        ssiuu=SSIUU,
        settings=lambda wc: config["benchmarks"][wc.benchmark]["pretrain"],
    shell:
        "{params.ssiuu} pretrain --retain-only --benchmark {wildcards.benchmark} --model {wildcards.model} "
        "--model-dir {input.model} --split {input.split} --out {output.model} "
        "--metrics {output.metrics} > {log} 2>&1"
