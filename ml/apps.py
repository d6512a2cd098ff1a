from django.apps import AppConfig


class MlConfig(AppConfig):
    name = "ml"
    verbose_name = "Sentiment models"

    def ready(self) -> None:
        from core.health import readiness_check_register
        from ml.health import check_model
        from ml.review_scoring import review_score_with_served_model
        from reviews.scoring import review_scorer_register

        readiness_check_register("model", check_model, needs=("database",), fields=("model",))
        review_scorer_register(review_score_with_served_model)
        import ml.audit_admin  # noqa: F401  (the label audit's admin screens register themselves)
