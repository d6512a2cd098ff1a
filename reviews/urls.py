from django.urls import path

from reviews import views

app_name = "reviews"

urlpatterns = [
    path("", views.review_home, name="home"),
    path("next-brand/", views.next_brand, name="next_brand"),
]
