from django.apps import AppConfig


class MlConfig(AppConfig):
    name = "ml"
    verbose_name = "Sentiment models"

    def ready(self) -> None:
        from core.health import readiness_check_register
        from ml.health import check_model

        readiness_check_register("model", check_model, needs=("database",), fields=("model",))
