"""PE401 unvalidated request bodies, PE402 endpoints without auth, PE403 responses without a model."""

from __future__ import annotations

from pathlib import Path

from tests.engine.rules.rule_harness import check, dedent, fixed_text


def test_fastapi_dict_payload_gets_a_model_stub_from_the_keys_it_reads(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE401",
        """
        from fastapi import APIRouter

        router = APIRouter()


        @router.post("/items")
        async def create_item(payload: dict) -> dict[str, object]:
            name = payload["name"]
            price = payload.get("price", 0.0)
            tags = payload.get("tags")
            return {"name": name, "price": price, "tags": tags}
        """,
        frameworks=("fastapi",),
    )
    assert len(findings) == 1
    finding = findings[0]
    assert finding.data["keys"] == ["name", "price", "tags"]
    assert "`payload: dict`" in finding.detail and "payload" in finding.message
    fix = finding.fixes[0]
    assert fix.safe
    assert fixed_text(finding) == dedent(
        """
        from typing import Any

        from fastapi import APIRouter
        from pydantic import BaseModel

        router = APIRouter()


        class CreateItemRequest(BaseModel):
            name: Any
            price: float = 0.0
            tags: Any = None


        @router.post("/items")
        async def create_item(payload: CreateItemRequest) -> dict[str, object]:
            name = payload.name
            price = payload.price
            tags = payload.tags
            return {"name": name, "price": price, "tags": tags}
        """
    )


def test_payload_used_whole_gets_an_unsafe_fix_with_model_dump(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE401",
        """
        from fastapi import FastAPI
        from pydantic import BaseModel

        app = FastAPI()


        @app.put("/things/{thing_id}")
        def update(thing_id: int, body: dict[str, str]) -> None:
            save(thing_id, body["title"], body["owner"], body)
        """,
        frameworks=("fastapi",),
    )
    fix = findings[0].fixes[0]
    assert not fix.safe
    text = fixed_text(findings[0])
    assert "class UpdateRequest(BaseModel):\n    title: Any\n    owner: Any\n" in text
    assert "save(thing_id, body.title, body.owner, body.model_dump())" in text
    assert text.count("from pydantic import BaseModel") == 1


def test_payload_that_is_written_to_has_no_fix(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE401",
        """
        from fastapi import FastAPI

        app = FastAPI()


        @app.post("/x")
        def x(data: dict) -> dict:
            data["seen"] = data["first"] + data["second"]
            return data
        """,
        frameworks=("fastapi",),
    )
    assert len(findings) == 1 and findings[0].fixes == ()


def test_fastapi_request_json_and_flask_and_django_raw_reads(tmp_path: Path) -> None:
    fastapi = check(
        tmp_path,
        "PE401",
        """
        from fastapi import FastAPI, Request

        app = FastAPI()


        @app.post("/hook")
        async def hook(request: Request) -> None:
            data = await request.json()
            save(data["name"], data["email"])
        """,
        frameworks=("fastapi",),
        relative="app/api.py",
    )
    assert [f.data["read"] for f in fastapi] == ["await request.json()"]
    flask = check(
        tmp_path,
        "PE401",
        """
        from flask import Flask, request

        app = Flask(__name__)


        @app.post("/items")
        def create():
            data = request.get_json()
            return save(data["name"], data.get("email"))
        """,
        frameworks=("flask",),
        relative="app/views.py",
    )
    assert [f.data["read"] for f in flask] == ["request.get_json"]
    django = check(
        tmp_path,
        "PE401",
        """
        from django.http import JsonResponse


        def create(request):
            name = request.POST["name"]
            return JsonResponse({"name": name, "email": request.POST.get("email")})
        """,
        frameworks=("django",),
        relative="shop/views.py",
    )
    assert [f.data["read"] for f in django] == ["request.POST"]
    assert "Django form" in django[0].detail


def test_validated_bodies_and_models_are_fine(tmp_path: Path) -> None:
    assert (
        check(
            tmp_path,
            "PE401",
            """
            from django.http import JsonResponse
            from fastapi import FastAPI
            from flask import request
            from pydantic import BaseModel

            app = FastAPI()


            class Item(BaseModel):
                name: str


            @app.post("/items")
            async def create(item: Item, tags: dict = Query(default={})) -> Item:
                return item


            @app.post("/validated")
            def flask_like():
                return Item.model_validate(request.get_json())


            def django_view(request):
                form = ItemForm(request.POST)
                return JsonResponse({"ok": form.is_valid()})
            """,
            frameworks=("fastapi", "flask", "django"),
        )
        == []
    )


def test_pe401_only_in_web_projects(tmp_path: Path) -> None:
    assert check(tmp_path, "PE401", "def create(request):\n    return request.POST\n") == []


ROUTER = """
from fastapi import APIRouter, Depends

router = APIRouter(prefix="/items")


@router.get("/")
def list_items(user: User = Depends(get_current_user)) -> list[Item]:
    return []


@router.post("/")
def create_item(item: Item, user: User = Depends(get_current_user)) -> Item:
    return item


@router.delete("/{item_id}")
def delete_item(item_id: int) -> None:
    remove(item_id)


@router.get("/health")
def health() -> str:
    return "ok"
"""


def test_route_without_the_auth_dependency_its_siblings_have(tmp_path: Path) -> None:
    findings = check(tmp_path, "PE402", ROUTER, frameworks=("fastapi",))
    assert [f.data["endpoint"] for f in findings] == ["delete_item"]
    finding = findings[0]
    assert "2 of 4 endpoints in `router`" in finding.detail
    assert "user: User = Depends(get_current_user)" in finding.detail
    text = fixed_text(finding)
    assert "def delete_item(item_id: int, user: User = Depends(get_current_user)) -> None:" in text


def test_router_level_dependency_or_minority_auth_is_fine(tmp_path: Path) -> None:
    protected_router = ROUTER.replace(
        'APIRouter(prefix="/items")', 'APIRouter(prefix="/items", dependencies=[Depends(get_current_user)])'
    )
    assert check(tmp_path, "PE402", protected_router, frameworks=("fastapi",)) == []
    mostly_open = """
    from fastapi import FastAPI, Depends

    app = FastAPI()


    @app.get("/a")
    def a(user=Depends(get_current_user)) -> None: ...


    @app.get("/b")
    def b() -> None: ...


    @app.get("/c")
    def c() -> None: ...
    """
    assert check(tmp_path, "PE402", mostly_open, frameworks=("fastapi",)) == []


def test_decorator_dependencies_are_copied_into_the_route(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE402",
        """
        from fastapi import APIRouter, Depends

        router = APIRouter()


        @router.get("/a", dependencies=[Depends(require_admin)])
        def a() -> None: ...


        @router.get("/b", dependencies=[Depends(require_admin)])
        def b() -> None: ...


        @router.get("/c")
        def c() -> None: ...
        """,
        frameworks=("fastapi",),
    )
    assert len(findings) == 1
    assert '@router.get("/c", dependencies=[Depends(require_admin)])' in fixed_text(findings[0])


def test_flask_login_required_is_added_below_the_route_decorator(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE402",
        """
        from flask import Blueprint
        from flask_login import login_required

        bp = Blueprint("admin", __name__)


        @bp.route("/users")
        @login_required
        def users():
            return "users"


        @bp.route("/settings")
        @login_required
        def settings():
            return "settings"


        @bp.route("/export")
        def export():
            return "export"
        """,
        frameworks=("flask",),
    )
    assert [f.data["endpoint"] for f in findings] == ["export"]
    assert '@bp.route("/export")\n@login_required\ndef export():' in fixed_text(findings[0])


def test_django_views_and_drf_classes(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE402",
        """
        from django.contrib.auth.decorators import login_required
        from rest_framework.permissions import AllowAny, IsAuthenticated
        from rest_framework.views import APIView


        class Orders(APIView):
            permission_classes = [IsAuthenticated]

            def get(self, request):
                return []


        class Invoices(APIView):
            permission_classes = [IsAuthenticated]

            def get(self, request):
                return []


        class Refunds(APIView):
            @method_decorator(csrf_exempt)
            def post(self, request):
                return []


        class Status(APIView):
            permission_classes = [AllowAny]

            def get(self, request):
                return []
        """,
        frameworks=("django", "djangorestframework"),
        relative="shop/views.py",
    )
    assert [f.data["endpoint"] for f in findings] == ["Refunds"]
    expected = "class Refunds(APIView):\n    permission_classes = [IsAuthenticated]\n\n    @method_decorator"
    assert expected in fixed_text(findings[0])


def test_response_without_model(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE403",
        """
        from fastapi import FastAPI
        from fastapi.responses import HTMLResponse

        app = FastAPI()


        @app.get("/users/{user_id}")
        def get_user(user_id: int):
            user = load(user_id)
            return {"id": user.id, "email": user.email, "password_hash": user.password_hash}


        @app.get("/typed")
        def typed() -> UserOut:
            return {"id": 1}


        @app.get("/model", response_model=UserOut)
        def model():
            return {"id": 1}


        @app.get("/page", response_class=HTMLResponse)
        def page():
            return "<p>hi</p>"
        """,
        frameworks=("fastapi",),
    )
    assert [f.data["function"] for f in findings] == ["get_user"]
    assert findings[0].data["keys"] == ["id", "email", "password_hash"]
    assert check(tmp_path, "PE403", "def get_user():\n    return {'id': 1}\n", frameworks=("flask",)) == []


def test_pe402_is_opt_in() -> None:
    from pyengineer.engine.registry import rule_for

    rule = rule_for("PE402")
    assert rule is not None and rule.default is False


def test_pe402_trial_patterns_are_not_reported(tmp_path: Path) -> None:
    # From the corpus (bench/corpus/labels/PE402.jsonl): Django's method decorators are not auth (and the fix
    # must never add `@require_POST` to a GET view), helpers taking `request` are not views, django-ninja's
    # `auth=` is auth (`AllowAnonymous` is open on purpose), `get_current_active_user` is a current user.
    django = """
    from django.contrib.auth.decorators import login_required
    from django.views.decorators.http import require_POST
    from ninja import Router

    router = Router()


    @require_POST
    def like(request):
        return None


    @require_POST
    def unlike(request):
        return None


    @require_POST
    def share(request):
        return None


    def show(request):
        return None


    def _check_can_view(request, page):
        return None


    @login_required
    def edit(request):
        return None


    @router.get("/pages", auth=[BearerTokenAuth(), AllowAnonymous()])
    def list_pages(request):
        return None
    """
    assert check(tmp_path, "PE402", django, frameworks=("django",), relative="blog/views.py") == []
    fastapi = """
    from fastapi import APIRouter, Depends

    router = APIRouter()


    @router.get("/a")
    def a(user=Depends(get_current_superuser)): ...


    @router.get("/b")
    def b(user=Depends(get_current_superuser)): ...


    @router.get("/me")
    def me(user=Depends(get_current_active_user)): ...
    """
    assert check(tmp_path, "PE402", fastapi, frameworks=("fastapi",)) == []
    # A test app leaves routes open on purpose.
    assert check(tmp_path, "PE402", ROUTER, frameworks=("fastapi",), relative="tests/test_app.py") == []


def test_view_class_that_decides_permissions_in_code_is_not_reported(tmp_path: Path) -> None:
    text = """
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.viewsets import ModelViewSet


    class Orders(ModelViewSet):
        permission_classes = [IsAuthenticated]

        def list(self, request):
            return []


    class Invoices(ModelViewSet):
        permission_classes = [IsAuthenticated]

        def list(self, request):
            return []


    class Users(ModelViewSet):
        def get_permissions(self):
            return [IsAuthenticated()]

        def retrieve(self, request, pk=None):
            return []
    """
    assert check(tmp_path, "PE402", text, frameworks=("djangorestframework",), relative="api/views.py") == []


def test_pe401_control_fields_hand_offs_and_raw_bytes_are_not_reported(tmp_path: Path) -> None:
    # From the corpus (bench/corpus/labels/PE401.jsonl): submit-button dispatch, a validated `next`, a body bound
    # to a form or handed to a converter, raw bytes for a signature, a free-form mapping by design.
    django = """
    import json

    from django.views import View


    class Offer(View):
        def post(self, request, *args, **kwargs):
            if "suspend" in request.POST:
                return self.suspend()
            action = request.POST.get("action")
            if action == "publish" or request.POST.get("mode") == "draft":
                return None
            if "order_action" in request.POST:
                return self.handle(request, request.POST["order_action"])
            redirect_to = request.POST.get("next", None)
            return redirect_to


    class Preview(View):
        def post(self, request, *args, **kwargs):
            form = self.get_form(request.POST)
            return form.is_valid() and request.POST["a"] and request.POST["b"]


    class Config(View):
        def post(self, request, *args, **kwargs):
            data = json.loads(request.body.decode())
            flow.save_config(data)
            return data.get("a"), data.get("b")
    """
    assert check(tmp_path, "PE401", django, frameworks=("django",), relative="shop/views.py") == []
    fastapi = """
    from typing import Any

    from fastapi import Body, FastAPI, Request

    app = FastAPI()


    @app.post("/hook")
    async def hook(request: Request) -> None:
        signature_ok(await request.body())
        form = await request.form()
        entry = convert_input(form, features)


    @app.patch("/labels")
    async def labels(labels: dict[str, Any] = Body(...)) -> None:
        save(labels)


    @app.post("/serve")
    async def serve(payload: dict = Body(...)) -> None:
        body = payload["body"]
    """
    assert check(tmp_path, "PE401", fastapi, frameworks=("fastapi",)) == []
    # Mock callbacks in tests are not views.
    test_callback = """
    import json


    def request_callback(request):
        data = json.loads(request.body.decode())
        return data["a"], data["b"]
    """
    assert (
        check(tmp_path, "PE401", test_callback, frameworks=("django",), relative="tests/test_hooks.py") == []
    )


def test_pe401_keys_read_from_parsed_json_are_reported(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE401",
        """
        import json

        from django.views import View


        class Schedule(View):
            def patch(self, request, event, pk):
                data = json.loads(request.body.decode())
                talk.start = parse(data.get("start"))
                talk.room = data["room"]
        """,
        frameworks=("django",),
        relative="orga/views.py",
    )
    assert [sorted(f.data["keys"]) for f in findings] == [["room", "start"]]


def test_pe401_model_full_clean_and_authenticate_validate(tmp_path: Path) -> None:
    # From the corpus: wagtail's editing-session ping (fields set, then `full_clean()`), dispatch's token view
    # (credentials handed to `authenticate()`).
    text = """
    from django.views import View


    class Ping(View):
        def post(self, request, *args, **kwargs):
            session.is_editing = request.POST.get("is_editing", False)
            session.revision = request.POST.get("revision")
            session.full_clean()


    class Token(View):
        def post(self, request):
            email = request.POST.get("email")
            password = request.POST.get("password")
            return authenticate(request, username=email, password=password)
    """
    assert check(tmp_path, "PE401", text, frameworks=("django",), relative="admin/views.py") == []
