"""Import resolvers, one workspace per language written by the test (no tree-sitter needed):
each must find the file an import names the way that language does, and nothing for a
library."""

from __future__ import annotations

import json
from pathlib import Path

from kaizen.languages.resolve import closest, neighbours, resolve


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def rel(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_typescript_relative_extensions_index_and_js_suffix(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "src/app.ts": "",
            "src/util.ts": "",
            "src/lib/index.tsx": "",
            "src/esm.ts": "",
            "src/plain.js": "",
        },
    )
    here = root / "src/app.ts"
    assert rel(resolve("node", "./util", here, root), root) == ["src/util.ts"]
    assert rel(resolve("node", "./lib", here, root), root) == ["src/lib/index.tsx"]
    assert rel(resolve("node", "./esm.js", here, root), root) == ["src/esm.ts"]
    assert rel(resolve("node", "./plain", here, root), root) == ["src/plain.js"]
    assert resolve("node", "react", here, root) == []  # a package: a library
    assert resolve("node", "./missing", here, root) == []


def test_typescript_tsconfig_paths_base_url_with_comments_and_extends(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "tsconfig.base.json": '{\n  // shared\n  "compilerOptions": {"baseUrl": "src",'
            ' "paths": {"@shop/*": ["shared/*"], "@money": ["money/index.ts"],},},\n}',
            "tsconfig.json": '{"extends": "./tsconfig.base.json", /* nothing else */}',
            "src/shared/price.ts": "",
            "src/money/index.ts": "",
            "src/orders/total.ts": "",
            "src/feature/a.ts": "",
        },
    )
    here = root / "src/feature/a.ts"
    assert rel(resolve("node", "@shop/price", here, root), root) == ["src/shared/price.ts"]
    assert rel(resolve("node", "@money", here, root), root) == ["src/money/index.ts"]
    assert rel(resolve("node", "orders/total", here, root), root) == ["src/orders/total.ts"]
    assert resolve("node", "lodash", here, root) == []


def test_go_module_packages_and_same_package_files(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "go.mod": "module example.com/shop\n\ngo 1.22\n",
            "main.go": "package main",
            "util/price.go": "package util",
            "util/round.go": "package util",
            "util/round_test.go": "package util",
            "cart/cart.go": "package cart",
            "cart/lines.go": "package cart",
        },
    )
    here = root / "main.go"
    assert rel(resolve("go", "example.com/shop/util", here, root), root) == [
        "util/price.go",
        "util/round.go",
    ]
    assert resolve("go", "fmt", here, root) == []
    assert resolve("go", "github.com/other/mod/pkg", here, root) == []
    assert rel(neighbours("go", root / "cart/cart.go", root), root) == ["cart/lines.go"]


def test_rust_crate_super_self_and_mod_layouts(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "Cargo.toml": '[package]\nname = "shop"\n',
            "src/lib.rs": "mod util;\nmod cart;",
            "src/util.rs": "",
            "src/util/round.rs": "",
            "src/cart/mod.rs": "",
            "src/cart/lines.rs": "",
        },
    )
    lines = root / "src/cart/lines.rs"
    assert rel(resolve("rust", "crate::util::round::round_price", lines, root), root) == [
        "src/util/round.rs"
    ]
    assert rel(resolve("rust", "crate::util::Money", lines, root), root) == ["src/util.rs"]
    assert rel(resolve("rust", "super::Cart", lines, root), root) == ["src/cart/mod.rs"]
    assert rel(resolve("rust", "self::helper", root / "src/cart/mod.rs", root), root) == [
        "src/cart/mod.rs"
    ]
    assert rel(resolve("rust", "util", root / "src/lib.rs", root), root) == ["src/util.rs"]
    assert rel(resolve("rust", "round", root / "src/util.rs", root), root) == ["src/util/round.rs"]
    assert resolve("rust", "serde::Serialize", lines, root) == []


def test_java_and_kotlin_imports_and_same_package(tmp_path: Path) -> None:
    base = "src/main/java/com/shop"
    root = write(
        tmp_path,
        {
            f"{base}/app/Main.java": "",
            f"{base}/app/Helper.java": "",
            f"{base}/util/Prices.java": "",
            "src/main/kotlin/com/shop/money/Rounding.kt": "",
        },
    )
    here = root / f"{base}/app/Main.java"
    assert rel(resolve("jvm", "com.shop.util.Prices", here, root), root) == [
        f"{base}/util/Prices.java"
    ]
    assert rel(resolve("jvm", "com.shop.util.Prices.round", here, root), root) == [
        f"{base}/util/Prices.java"
    ]
    assert rel(resolve("jvm", "com.shop.util.*", here, root), root) == [f"{base}/util/Prices.java"]
    assert resolve("jvm", "java.util.List", here, root) == []
    assert rel(neighbours("jvm", here, root), root) == [f"{base}/app/Helper.java"]
    kt = root / "src/main/kotlin/com/shop/App.kt"
    kt.write_text("")
    assert rel(resolve("jvm", "com.shop.money.roundPrice", kt, root), root) == [
        "src/main/kotlin/com/shop/money/Rounding.kt"
    ]


def test_c_includes_relative_then_compile_commands(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "src/main.c": "",
            "src/local.h": "",
            "third/include/price.h": "",
            "compile_commands.json": json.dumps(
                [
                    {
                        "directory": str(tmp_path),
                        "file": "src/main.c",
                        "arguments": ["cc", "-Ithird/include", "-c", "src/main.c"],
                    }
                ]
            ),
        },
    )
    here = root / "src/main.c"
    assert rel(resolve("c", "local.h", here, root), root) == ["src/local.h"]
    (root / "src/local.c").write_text("")  # definitions the header only declares
    assert rel(resolve("c", "local.h", here, root), root) == ["src/local.h", "src/local.c"]
    assert rel(resolve("c", "price.h", here, root), root) == ["third/include/price.h"]
    assert resolve("c", "stdio.h", here, root) == []


def test_csharp_using_namespaces(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "App/Program.cs": "namespace Shop.App;\nclass Program {}",
            "App/Helper.cs": "namespace Shop.App\n{\n}",
            "Lib/Prices.cs": "namespace Shop.Money {\n public static class Prices {} }",
        },
    )
    here = root / "App/Program.cs"
    assert rel(resolve("csharp", "Shop.Money", here, root), root) == ["Lib/Prices.cs"]
    assert resolve("csharp", "System.Linq", here, root) == []
    assert rel(neighbours("csharp", here, root), root) == ["App/Helper.cs"]


def test_ruby_require_relative_and_require(tmp_path: Path) -> None:
    root = write(tmp_path, {"app/cart.rb": "", "app/price.rb": "", "lib/money/round.rb": ""})
    here = root / "app/cart.rb"
    assert rel(resolve("ruby", "price", here, root), root) == ["app/price.rb"]
    assert rel(resolve("ruby", "./price", here, root), root) == ["app/price.rb"]
    assert rel(resolve("ruby", "money/round", here, root), root) == ["lib/money/round.rb"]
    assert resolve("ruby", "json", here, root) == []


def test_php_use_through_psr4_and_require(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "composer.json": '{"autoload": {"psr-4": {"Shop\\\\": "src/"}}}',
            "src/Money/Prices.php": "",
            "src/Cart.php": "",
            "bootstrap/helpers.php": "",
        },
    )
    here = root / "src/Cart.php"
    assert rel(resolve("php", "Shop\\Money\\Prices", here, root), root) == ["src/Money/Prices.php"]
    assert rel(resolve("php", "../bootstrap/helpers.php", here, root), root) == [
        "bootstrap/helpers.php"
    ]
    assert resolve("php", "Symfony\\Component\\Console", here, root) == []


def test_closest_prefers_the_nearest_path(tmp_path: Path) -> None:
    here = tmp_path / "src/orders/cart.ts"
    far = tmp_path / "legacy/util/round.ts"
    near = tmp_path / "src/orders/util/round.ts"
    sibling = tmp_path / "src/shared/round.ts"
    assert closest([far, sibling, near], here) == near
    assert closest([far, sibling], here) == sibling
