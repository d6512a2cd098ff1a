"""Company slugs may not be a fixed path beside /api/brands/<slug>/ ("random"); an existing one is renamed."""

from django.db import migrations, models

import brands.models


def rename_reserved_slugs(apps, schema_editor):
    Company = apps.get_model("brands", "Company")
    for company in Company.objects.filter(slug__in=brands.models.RESERVED_COMPANY_SLUGS):
        n = 2
        while Company.objects.filter(slug=f"{company.slug}-{n}").exists():
            n += 1
        company.slug = f"{company.slug}-{n}"
        company.save(update_fields=["slug"])


class Migration(migrations.Migration):
    dependencies = [
        ("brands", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="company",
            name="slug",
            field=models.SlugField(max_length=255, unique=True, validators=[brands.models.validate_company_slug]),
        ),
        migrations.RunPython(rename_reserved_slugs, migrations.RunPython.noop),
    ]
