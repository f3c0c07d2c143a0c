"""One adapter per library; ADAPTERS maps a library's name to its module path."""

ADAPTERS = {
    "pykue": "benchmarks.adapters.pykue_adapter",
    "rq": "benchmarks.adapters.rq_adapter",
    "arq": "benchmarks.adapters.arq_adapter",
    "saq": "benchmarks.adapters.saq_adapter",
    "celery": "benchmarks.adapters.celery_adapter",
    "dramatiq": "benchmarks.adapters.dramatiq_adapter",
    "huey": "benchmarks.adapters.huey_adapter",
    "bullmq": "benchmarks.adapters.bullmq_adapter",
    "redis-py": "benchmarks.adapters.ceiling_adapter",
}
