from django.urls import path

from bulwark.sso import views

urlpatterns = [
    path("sso/", views.choose, name="sso-choose"),
    path("sso/providers/", views.provider_list, name="sso-provider-list"),
    path("sso/providers/new/", views.provider_create, name="sso-provider-create"),
    path("sso/providers/<int:pk>/", views.provider_edit, name="sso-provider-edit"),
    path("sso/learner/", views.learner_choose, name="sso-learner-choose"),
    path("sso/<slug:slug>/", views.login, name="sso-login"),
    path("sso/<slug:slug>/learner/", views.learner_login, name="sso-learner-login"),
    path("sso/<slug:slug>/oidc/callback/", views.oidc_callback, name="sso-oidc-callback"),
    path("sso/<slug:slug>/saml/acs/", views.saml_acs, name="sso-saml-acs"),
    path("sso/<slug:slug>/saml/metadata/", views.saml_metadata, name="sso-saml-metadata"),
]
