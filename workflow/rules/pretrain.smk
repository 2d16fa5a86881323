rule pretrain:
    """TOFU-style pre-finetuning on the whole benchmark (forget + retain), before unlearning. Every job of a
    ROUGE benchmark waits for it, so it runs before the jobs that nothing waits for (priority)."""
    input:
        split=rules.split.output[0],
        model=rules.prepare_model.output[0],
    output:
        model=saved_model(P("pretrained_model")),
        metrics=P("pretrain"),
    log:
        f"{W}/logs/pretrain/{{benchmark}}/{{model}}.log",
    benchmark:
        f"{W}/benchmarks/pretrain/{{benchmark}}/{{model}}.tsv"
    priority: 10
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(),
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
        model=saved_model(P("never_learned_model")),
        metrics=P("pretrain_never_learned"),
    log:
        f"{W}/logs/pretrain/{{benchmark}}/{{model}}-neverlearned.log",
    benchmark:
        f"{W}/benchmarks/pretrain_never_learned/{{benchmark}}/{{model}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(),
    params:
        ssiuu=SSIUU,
        settings=lambda wc: config["benchmarks"][wc.benchmark]["pretrain"],
    shell:
        "{params.ssiuu} pretrain --retain-only --benchmark {wildcards.benchmark} --model {wildcards.model} "
        "--model-dir {input.model} --split {input.split} --out {output.model} "
        "--metrics {output.metrics} > {log} 2>&1"
