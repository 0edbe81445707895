"""Who may do what: small permission classes, with object checks where there are objects.

Shoppers (signed in, or anonymous by session) reach only their own data: the ``me/``
endpoints act on the caller, and objects that belong to a shopper (interactions) are
checked against the caller again in ``has_object_permission``, after the queryset
already left everyone else's out.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions

from ..shoppers import shopper_from_request

REVIEW_PERMISSION = "stylerecs.review_stylizedvariant"


def owns(shopper, obj) -> bool:
    """Whether ``obj`` (a row with ``user_id`` and ``session_key``) is ``shopper``'s."""
    if shopper is None:
        return False
    if shopper.user_id is not None:
        return obj.user_id == shopper.user_id
    return obj.user_id is None and bool(shopper.anon_id) and obj.session_key == shopper.anon_id


class IsShopper(BasePermission):
    """Anyone who can be told apart: a user, or an anonymous session (made on first write).

    Reads by a caller without a session yet are allowed and see nothing of anyone's.
    """

    message = "Could not identify you: enable cookies or authenticate."
    # Declared in the OpenAPI schema (stylerecs.api.openapi.AutoSchema): no credentials
    # are needed; a visitor is served by session.
    allows_anonymous = True

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return shopper_from_request(request) is not None

    def has_object_permission(self, request, view, obj) -> bool:
        return owns(shopper_from_request(request, create=False), obj)


class StaffModelPermissions(DjangoModelPermissions):
    """Active staff with the model's Django permission (reads need ``view_<model>``).

    The same permissions as the admin's, so an API token can do no more than its user
    could do in the admin.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            return False
        return super().has_permission(request, view)


class CanReviewVariants(BasePermission):
    """Active staff with ``stylerecs.review_stylizedvariant``: approve or reject variants."""

    message = "Approving or rejecting variants needs the review permission."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.is_active
            and user.is_staff
            and user.has_perm(REVIEW_PERMISSION)
        )

    def has_object_permission(self, request, view, obj) -> bool:
        return request.user.has_perm(REVIEW_PERMISSION)
