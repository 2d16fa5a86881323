rule prepare_model:
    """Materialise the model spec as a safetensors checkpoint (a GGUF file is dequantised once)."""
    output:
        directory(P("base_model")),
    log:
        f"{W}/logs/prepare_model/{{model}}.log",
    benchmark:
        f"{W}/benchmarks/prepare_model/{{model}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        ssiuu=SSIUU,
    shell:
        "{params.ssiuu} prepare-model --model {wildcards.model} --out {output} > {log} 2>&1"


rule build_benchmark:
    """Load or generate the benchmark's records (FaithUn, TOFU, worldfacts, fictitious)."""
    output:
        P("records"),
    log:
        f"{W}/logs/build_benchmark/{{benchmark}}.log",
    benchmark:
        f"{W}/benchmarks/build_benchmark/{{benchmark}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        ssiuu=SSIUU,
        settings=lambda wc: config["benchmarks"][wc.benchmark],
    shell:
        "{params.ssiuu} build-benchmark --benchmark {wildcards.benchmark} --out {output} > {log} 2>&1"


rule split:
    """Probe the base model (MCQA benchmarks keep only facts it knows), then split by cluster."""
    input:
        records=rules.build_benchmark.output[0],
        model=rules.prepare_model.output[0],
    output:
        P("split"),
    log:
        f"{W}/logs/split/{{benchmark}}/{{model}}.log",
    benchmark:
        f"{W}/benchmarks/split/{{benchmark}}/{{model}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(),
    params:
        ssiuu=SSIUU,
        settings=lambda wc: config["benchmarks"][wc.benchmark],
    shell:
        "{params.ssiuu} split --benchmark {wildcards.benchmark} --model {wildcards.model} "
        "--records {input.records} --model-dir {input.model} --out {output} > {log} 2>&1"


rule base_eval:
    """FS, RS, test accuracy and US of the model unlearning starts from (the Default row)."""
    input:
        split=rules.split.output[0],
        model=start_model,
    output:
        P("base"),
    log:
        f"{W}/logs/base_eval/{{benchmark}}/{{model}}.log",
    benchmark:
        f"{W}/benchmarks/base_eval/{{benchmark}}/{{model}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(),
    params:
        ssiuu=SSIUU,
    shell:
        "{params.ssiuu} base-eval --benchmark {wildcards.benchmark} --model {wildcards.model} "
        "--model-dir {input.model} --split {input.split} --out {output} > {log} 2>&1"
