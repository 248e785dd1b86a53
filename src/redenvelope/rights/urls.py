from django.urls import path

from . import views

urlpatterns = [
    path("rights/", views.overview, name="rights"),
    path("rights/imports/<int:import_id>/", views.import_detail, name="rights_import"),
    path("rights/avails.<str:fmt>", views.export, name="rights_export"),
    path("rights/contracts/<int:contract_id>/", views.contract, name="rights_contract"),
]
