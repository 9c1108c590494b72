# Landesamt fuer Digitales (LfD) -- Google Cloud project "lfd-fachverfahren-prod" (418273645501),
# region europe-west3 (Frankfurt).
#
# Example estate for hoheit. plan.json next to this file is the plan of this
# configuration as `terraform show -json` prints it (format 1.2, Terraform 1.11).
# Mistakes are planted on purpose and marked "MISTAKE:"; everything else is
# meant to be correct. See ../README.md.
terraform {
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
  }
}

provider "google" {
  project = "lfd-fachverfahren-prod"
  region  = "europe-west3"
  zone    = "europe-west3-a"
  default_labels = {
    behoerde     = "lfd"
    kostenstelle = "lfd-4711"
    managed-by   = "terraform"
  }
}

# Existing key ring. Key rings are not modelled by hoheit (listed as unsupported).
resource "google_kms_key_ring" "lfd" {
  name     = "lfd-prod"
  location = "europe-west3"
}

# CMEK for buckets, disks and Cloud SQL: HSM-protected, rotated every 90 days. Correct.
resource "google_kms_crypto_key" "storage" {
  name                       = "storage-cmek"
  key_ring                   = google_kms_key_ring.lfd.id
  rotation_period            = "7776000s"
  destroy_scheduled_duration = "2592000s"
  labels = {
    classification = "confidential"
  }

  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = "HSM"
  }
}

# MISTAKE: no rotation_period (never rotated automatically), software protection.
resource "google_kms_crypto_key" "legacy" {
  name     = "altverfahren"
  key_ring = google_kms_key_ring.lfd.id
}

resource "google_kms_crypto_key_iam_member" "gcs_agent" {
  crypto_key_id = google_kms_crypto_key.storage.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:service-418273645501@gs-project-accounts.iam.gserviceaccount.com"
}

resource "google_kms_crypto_key_iam_member" "sql_agent" {
  crypto_key_id = google_kms_crypto_key.storage.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:service-418273645501@gcp-sa-cloud-sql.iam.gserviceaccount.com"
}

# Target of the access logs. CMEK, versioned, not public. It does not log itself
# (exception in examples/exceptions.yaml).
resource "google_storage_bucket" "logs" {
  name                        = "lfd-gcs-zugriffsprotokolle"
  location                    = "EUROPE-WEST3"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels = {
    classification = "internal"
    personal_data  = "false"
    team           = "betrieb"
  }

  versioning {
    enabled = true
  }

  encryption {
    default_kms_key_name = google_kms_crypto_key.storage.id
  }
}

# Case files: uniform bucket-level access, public access prevention enforced,
# CMEK (key id known only after apply), versioning, access logging. Correct.
resource "google_storage_bucket" "akten" {
  name                        = "lfd-fachverfahren-akten-gcp"
  location                    = "EUROPE-WEST3"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels = {
    classification = "confidential"
    personal_data  = "true"
    team           = "fachverfahren"
  }

  versioning {
    enabled = true
  }

  encryption {
    default_kms_key_name = google_kms_crypto_key.storage.id
  }

  logging {
    log_bucket        = google_storage_bucket.logs.name
    log_object_prefix = "akten/"
  }
}

# MISTAKE: public website bucket: allUsers may read every object (IAM member below).
resource "google_storage_bucket" "buergerportal_web" {
  name                        = "lfd-buergerportal-web-gcp"
  location                    = "EUROPE-WEST3"
  uniform_bucket_level_access = true
  public_access_prevention    = "inherited"
  labels = {
    classification = "public"
    personal_data  = "false"
    team           = "web"
  }

  website {
    main_page_suffix = "index.html"
    not_found_page   = "404.html"
  }
}

resource "google_storage_bucket_iam_member" "buergerportal_web_public" {
  bucket = google_storage_bucket.buergerportal_web.name
  role   = "roles/storage.objectViewer"
  member = "allUsers"
}

# MISTAKE (GDPR residency): personal data for a statistics vendor, stored in us-central1.
resource "google_storage_bucket" "statistik_us" {
  name                        = "lfd-statistik-export-us-gcp"
  location                    = "US-CENTRAL1"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels = {
    classification = "confidential"
    personal_data  = "true"
    team           = "statistik"
  }

  versioning {
    enabled = true
  }

  logging {
    log_bucket        = google_storage_bucket.logs.name
    log_object_prefix = "statistik/"
  }
}

resource "google_compute_network" "fachverfahren" {
  name                    = "vpc-lfd-fachverfahren"
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"
}

# Subnet with VPC flow logs. Correct.
resource "google_compute_subnetwork" "app" {
  name                     = "snet-app"
  region                   = "europe-west3"
  network                  = google_compute_network.fachverfahren.id
  ip_cidr_range            = "10.40.1.0/24"
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_5_SEC"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# MISTAKE: the legacy network's subnet has no flow logs (no log_config).
resource "google_compute_network" "legacy" {
  name                    = "vpc-altverfahren"
  auto_create_subnetworks = false
}

resource "google_compute_subnetwork" "legacy" {
  name          = "snet-altverfahren"
  region        = "europe-west3"
  network       = google_compute_network.legacy.id
  ip_cidr_range = "10.49.0.0/24"
}

# MISTAKE: SSH (22/tcp) open to the whole internet.
resource "google_compute_firewall" "legacy_ssh" {
  name          = "altverfahren-allow-ssh"
  network       = google_compute_network.legacy.name
  direction     = "INGRESS"
  source_ranges = ["0.0.0.0/0"]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}

# SSH only through Identity-Aware Proxy (Google's IAP range). Correct.
resource "google_compute_firewall" "iap_ssh" {
  name          = "fachverfahren-allow-iap-ssh"
  network       = google_compute_network.fachverfahren.name
  direction     = "INGRESS"
  source_ranges = ["35.235.240.0/20"]
  target_tags   = ["ssh-iap"]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_global_address" "private_services" {
  name          = "lfd-private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = 20
  network       = google_compute_network.fachverfahren.id
}

resource "google_service_networking_connection" "private_services" {
  network                 = google_compute_network.fachverfahren.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_services.name]
}

resource "google_service_account" "fachverfahren" {
  account_id   = "fachverfahren-app"
  display_name = "Fachverfahren application"
}

# Confidential VM: AMD SEV-SNP, shielded VM (secure boot, vTPM,
# integrity monitoring), CMEK boot disk, own service account, no external IP, OS Login. Correct.
resource "google_compute_instance" "fachverfahren" {
  name             = "vm-lfd-fachverfahren"
  zone             = "europe-west3-a"
  machine_type     = "n2d-standard-4"
  min_cpu_platform = "AMD Milan"
  tags             = ["ssh-iap"]
  metadata = {
    enable-oslogin         = "TRUE"
    block-project-ssh-keys = "TRUE"
  }
  labels = {
    classification = "confidential"
    personal_data  = "true"
    team           = "fachverfahren"
  }

  boot_disk {
    kms_key_self_link = google_kms_crypto_key.storage.id

    initialize_params {
      image = "ubuntu-os-cloud/ubuntu-2404-lts-amd64"
      size  = 50
      type  = "pd-balanced"
    }
  }

  network_interface {
    subnetwork = google_compute_subnetwork.app.id
  }

  service_account {
    email  = google_service_account.fachverfahren.email
    scopes = ["cloud-platform"]
  }

  confidential_instance_config {
    confidential_instance_type = "SEV_SNP"
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  scheduling {
    on_host_maintenance = "TERMINATE"
  }
}

# MISTAKE: labelled confidential but no confidential computing; ephemeral external
# IP (access_config {}); default compute service account with the cloud-platform
# scope; serial console enabled.
resource "google_compute_instance" "legacy" {
  name         = "vm-altverfahren"
  zone         = "europe-west3-b"
  machine_type = "e2-medium"
  metadata = {
    serial-port-enable = "TRUE"
  }
  labels = {
    classification = "confidential"
    personal_data  = "true"
    team           = "altverfahren"
  }

  boot_disk {
    initialize_params {
      image = "debian-cloud/debian-11"
      size  = 100
    }
  }

  network_interface {
    subnetwork = google_compute_subnetwork.legacy.id

    access_config {
    }
  }

  service_account {
    email  = "418273645501-compute@developer.gserviceaccount.com"
    scopes = ["cloud-platform"]
  }
}

# Fachverfahren database: private IP only, TLS enforced, regional HA, PITR with
# 30 backups, CMEK, pgaudit. Correct.
resource "google_sql_database_instance" "fachverfahren" {
  name                = "sql-lfd-fachverfahren"
  region              = "europe-west3"
  database_version    = "POSTGRES_16"
  encryption_key_name = google_kms_crypto_key.storage.id
  deletion_protection = true

  settings {
    tier                        = "db-custom-4-16384"
    edition                     = "ENTERPRISE"
    availability_type           = "REGIONAL"
    deletion_protection_enabled = true
    user_labels = {
      classification = "confidential"
      personal_data  = "true"
      environment    = "production"
    }

    ip_configuration {
      ipv4_enabled    = false
      private_network = google_compute_network.fachverfahren.id
      ssl_mode        = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "02:00"

      backup_retention_settings {
        retained_backups = 30
      }
    }

    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }

    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }

    database_flags {
      name  = "log_connections"
      value = "on"
    }
  }
}

# MISTAKE: public IP with 0.0.0.0/0 as authorized network, unencrypted
# connections allowed, no backups, no HA, deletion protection off.
resource "google_sql_database_instance" "buergerportal" {
  name                = "sql-lfd-buergerportal"
  region              = "europe-west3"
  database_version    = "MYSQL_8_0"
  deletion_protection = false

  settings {
    tier              = "db-f1-micro"
    availability_type = "ZONAL"
    user_labels = {
      personal_data = "true"
      environment   = "production"
    }

    ip_configuration {
      ipv4_enabled = true
      ssl_mode     = "ALLOW_UNENCRYPTED_AND_ENCRYPTED"

      authorized_networks {
        name  = "alle"
        value = "0.0.0.0/0"
      }
    }

    backup_configuration {
      enabled = false
    }
  }
}

# MISTAKE: project Owner for a private Gmail account of an external contractor.
resource "google_project_iam_member" "dienstleister_owner" {
  project = "lfd-fachverfahren-prod"
  role    = "roles/owner"
  member  = "user:it-dienstleister.altverfahren@gmail.com"
}

# The application's service account may connect to Cloud SQL. Correct.
resource "google_project_iam_member" "fachverfahren_sql_client" {
  project = "lfd-fachverfahren-prod"
  role    = "roles/cloudsql.client"
  member  = google_service_account.fachverfahren.member
}

# Data access audit logs for all services. Correct.
resource "google_project_iam_audit_config" "all_services" {
  project = "lfd-fachverfahren-prod"
  service = "allServices"

  audit_log_config {
    log_type = "ADMIN_READ"
  }

  audit_log_config {
    log_type = "DATA_READ"
  }

  audit_log_config {
    log_type = "DATA_WRITE"
  }
}
