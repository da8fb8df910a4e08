using Hermes.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Hermes.Persistence;

/// <summary>
/// The one context: leads, their outbox rows and the delivery attempt log, mapped to the seed's table and
/// column names. The schema itself is created by the hand-written migrations in <c>Migrations/</c>; the
/// drift test keeps this model and those migrations in step.
/// </summary>
public sealed class HermesDbContext(DbContextOptions<HermesDbContext> options) : DbContext(options)
{
    public DbSet<Lead> Leads => Set<Lead>();
    public DbSet<OutboxMessage> Outbox => Set<OutboxMessage>();
    public DbSet<DeliveryAttempt> DeliveryAttempts => Set<DeliveryAttempt>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        MapLead(modelBuilder.Entity<Lead>());
        MapOutbox(modelBuilder.Entity<OutboxMessage>());
        MapAttempt(modelBuilder.Entity<DeliveryAttempt>());
    }

    private static void MapLead(EntityTypeBuilder<Lead> lead)
    {
        lead.ToTable("hermes_leads", static t => t.HasCheckConstraint(
            "ck_hermes_leads_crm_erasure_state",
            $"crm_erasure_state IN ({string.Join(", ", CrmErasureStateNames.All.Select(static s => $"'{s}'"))})"));
        lead.HasKey(static l => l.BackupId).HasName("hermes_leads_pkey");
        lead.Property(static l => l.BackupId).HasColumnName("id").UseIdentityByDefaultColumn();
        lead.Property(static l => l.LeadId).HasColumnName("lead_id").HasMaxLength(50).IsRequired();
        lead.Property(static l => l.BrevoContactId).HasColumnName("brevo_contact_id").HasMaxLength(100);

        lead.Property(static l => l.FirstName).HasColumnName("first_name").HasMaxLength(100);
        lead.Property(static l => l.LastName).HasColumnName("last_name").HasMaxLength(100);
        lead.Property(static l => l.Email).HasColumnName("email").HasMaxLength(255);
        lead.Property(static l => l.Country).HasColumnName("country").HasMaxLength(100);
        lead.Property(static l => l.PhoneNumber).HasColumnName("phone_number").HasMaxLength(50);
        lead.Property(static l => l.UserRole).HasColumnName("user_role").HasMaxLength(100);
        lead.Property(static l => l.ProblemDescription).HasColumnName("problem_description").HasColumnType("text");
        lead.Property(static l => l.CompanyName).HasColumnName("company_name").HasMaxLength(255);
        lead.Property(static l => l.CompanySize).HasColumnName("company_size").HasMaxLength(50);
        lead.Property(static l => l.ServiceUrgency).HasColumnName("service_urgency").HasMaxLength(50);
        lead.Property(static l => l.AgreeToTerms).HasColumnName("agree_to_terms");
        lead.Property(static l => l.PrivacyConsent).HasColumnName("privacy_consent");
        lead.Property(static l => l.MarketingConsent).HasColumnName("marketing_consent");

        lead.Property(static l => l.CaptchaToken).HasColumnName("captcha_token").HasMaxLength(500);
        lead.Property(static l => l.UserAgent).HasColumnName("user_agent").HasColumnType("text");
        lead.Property(static l => l.IpAddress).HasColumnName("ip_address").HasColumnType("inet");
        lead.Property(static l => l.Source).HasColumnName("source").HasMaxLength(50);

        lead.Property(static l => l.CreatedAt).HasColumnName("created_at").HasDefaultValueSql("CURRENT_TIMESTAMP");
        lead.Property(static l => l.N8nWebhookSentAt).HasColumnName("n8n_webhook_sent_at");
        lead.Property(static l => l.N8nResponseReceivedAt).HasColumnName("n8n_response_received_at");
        lead.Property(static l => l.N8nResponseData).HasColumnName("n8n_response_data").HasColumnType("jsonb");
        lead.Property(static l => l.N8nSuccess).HasColumnName("n8n_success");
        lead.Property(static l => l.N8nErrorMessage).HasColumnName("n8n_error_message").HasColumnType("text");

        lead.Property(static l => l.Status).HasColumnName("status").HasMaxLength(50);
        lead.Property(static l => l.ProcessedAt).HasColumnName("processed_at");
        lead.Property(static l => l.AssignedTo).HasColumnName("assigned_to").HasMaxLength(100);
        lead.Property(static l => l.Notes).HasColumnName("notes").HasColumnType("text");

        lead.Property(static l => l.LeadScore).HasColumnName("lead_score");
        lead.Property(static l => l.Priority).HasColumnName("priority").HasMaxLength(20);
        lead.Property(static l => l.Tags).HasColumnName("tags").HasColumnType("text[]");
        lead.Property(static l => l.AiAnalysis).HasColumnName("ai_analysis").HasColumnType("jsonb");
        lead.Property(static l => l.EstimatedValue).HasColumnName("estimated_value").HasPrecision(10, 2);

        lead.Property(static l => l.IdempotencyKey).HasColumnName("idempotency_key").HasMaxLength(255);
        lead.Property(static l => l.RequestHash).HasColumnName("request_hash").HasMaxLength(64);
        lead.Property(static l => l.ErasedAt).HasColumnName("erased_at");
        lead.Property(static l => l.CrmErasure).HasColumnName("crm_erasure_state").HasMaxLength(20)
            .HasConversion(new ValueConverter<CrmErasureState, string>(static s => s.ToDatabase(), static s => CrmErasureStateNames.Parse(s)));
        lead.Property(static l => l.CrmErasedAt).HasColumnName("crm_erased_at");
        lead.Property(static l => l.IsCanary).HasColumnName("is_canary");

        lead.HasIndex(static l => l.LeadId).IsUnique().HasDatabaseName("idx_hermes_leads_lead_id");
        // idx_hermes_leads_email is an expression index on lower(email), created by the migration (EF cannot model it).
        lead.HasIndex(static l => l.CreatedAt).HasDatabaseName("idx_hermes_leads_created_at");
        // The console's count by status leaves the canaries out: is_canary rides along, so the count reads this index alone.
        lead.HasIndex(static l => l.Status).IncludeProperties(static l => l.IsCanary).HasDatabaseName("idx_hermes_leads_status");
        lead.HasIndex(static l => l.N8nSuccess).HasDatabaseName("idx_hermes_leads_n8n_success");
        lead.HasIndex(static l => l.BrevoContactId).HasDatabaseName("idx_hermes_leads_brevo_id");
        // The doctor's look-up of erasures the CRM has not confirmed: few rows, so a partial index.
        lead.HasIndex(static l => l.ErasedAt).HasFilter($"crm_erasure_state IN ('{CrmErasureStateNames.AwaitingDelivery}', '{CrmErasureStateNames.Queued}', '{CrmErasureStateNames.Failed}')")
            .HasDatabaseName("idx_hermes_leads_crm_erasure_unconfirmed");
        lead.HasIndex(static l => l.IdempotencyKey).IsUnique().HasFilter("idempotency_key IS NOT NULL")
            .HasDatabaseName("idx_hermes_leads_idempotency_key");
        // The canaries alone (the console's filter, the canary's own "when was the last one"): few rows, so a partial index.
        lead.HasIndex(static l => l.BackupId).HasFilter("is_canary").HasDatabaseName("idx_hermes_leads_canary");
    }

    private static void MapOutbox(EntityTypeBuilder<OutboxMessage> outbox)
    {
        outbox.ToTable("hermes_outbox", static t =>
        {
            t.HasCheckConstraint(
                "ck_hermes_outbox_status",
                $"status IN ('{OutboxStatusNames.Pending}', '{OutboxStatusNames.Delivered}', '{OutboxStatusNames.Failed}', '{OutboxStatusNames.Cancelled}')");
            t.HasCheckConstraint("ck_hermes_outbox_failure_class", FailureClassCheck);
        });
        outbox.HasKey(static o => o.Id).HasName("hermes_outbox_pkey");
        outbox.Property(static o => o.Id).HasColumnName("id").UseIdentityByDefaultColumn();
        outbox.Property(static o => o.BackupId).HasColumnName("lead_id");
        outbox.Property(static o => o.Type).HasColumnName("type").HasMaxLength(100);
        outbox.Property(static o => o.Payload).HasColumnName("payload").HasColumnType("jsonb");
        outbox.Property(static o => o.Status).HasColumnName("status").HasMaxLength(20)
            .HasConversion(static s => s.ToDatabase(), static s => OutboxStatusNames.Parse(s));
        outbox.Property(static o => o.Attempts).HasColumnName("attempts");
        outbox.Property(static o => o.AvailableAt).HasColumnName("available_at").HasDefaultValueSql("now()");
        outbox.Property(static o => o.LockedBy).HasColumnName("locked_by").HasMaxLength(200);
        outbox.Property(static o => o.CreatedAt).HasColumnName("created_at").HasDefaultValueSql("now()");
        outbox.Property(static o => o.DeliveredAt).HasColumnName("delivered_at");
        outbox.Property(static o => o.LastError).HasColumnName("last_error").HasColumnType("text");
        outbox.Property(static o => o.LastStatusCode).HasColumnName("last_status_code");
        outbox.Property(static o => o.ReplayCount).HasColumnName("replay_count");
        outbox.Property(static o => o.Traceparent).HasColumnName("traceparent").HasMaxLength(100);
        outbox.Property(static o => o.FailureClass).HasColumnName("failure_class").HasMaxLength(10);
        outbox.Property(static o => o.FailedAt).HasColumnName("failed_at");
        outbox.Property(static o => o.AutoRecoveredGeneration).HasColumnName("auto_recovered_generation");

        outbox.HasOne(static o => o.Lead).WithMany().HasForeignKey(static o => o.BackupId)
            .HasConstraintName("fk_hermes_outbox_lead").OnDelete(DeleteBehavior.Restrict);
        // The queue, in claim order. It is the only index that holds pending rows: the share of pending rows swings
        // from none to all between two ANALYZEs, and an index that also held them (the former
        // idx_hermes_outbox_undelivered) let the planner, told by the last ANALYZE that almost nothing was pending,
        // fetch a whole backlog through it and sort it for each claim (ClaimPlanTests, docs/database.md). created_at
        // rides along so that the oldest pending row's age is read from this index alone.
        outbox.HasIndex(static o => new { o.AvailableAt, o.Id }).HasFilter($"status = '{OutboxStatusNames.Pending}'")
            .IncludeProperties(static o => o.CreatedAt)
            .HasDatabaseName("idx_hermes_outbox_pending");
        outbox.HasIndex(static o => o.BackupId).HasDatabaseName("idx_hermes_outbox_lead_id");
        outbox.HasIndex(static o => o.DeliveredAt).HasFilter($"status = '{OutboxStatusNames.Delivered}'")
            .HasDatabaseName("idx_hermes_outbox_delivered_at");
        outbox.HasIndex(static o => new { o.Status, o.CreatedAt }).HasFilter($"status IN ('{OutboxStatusNames.Failed}', '{OutboxStatusNames.Cancelled}')")
            .HasDatabaseName("idx_hermes_outbox_stopped");
        // The automatic recovery's candidates (OutboxAutoRecovery): few rows, found without reading the outbox.
        outbox.HasIndex(static o => new { o.FailedAt, o.Id })
            .HasFilter($"status = '{OutboxStatusNames.Failed}' AND failure_class = '{FailureClasses.Outage}' AND auto_recovered_generation IS NULL")
            .HasDatabaseName("idx_hermes_outbox_outage_failed");
    }

    private const string FailureClassCheck = $"failure_class IN ('{FailureClasses.Outage}', '{FailureClasses.Content}')";

    private static void MapAttempt(EntityTypeBuilder<DeliveryAttempt> attempt)
    {
        attempt.ToTable("hermes_delivery_attempts", static t => t.HasCheckConstraint("ck_hermes_delivery_attempts_failure_class", FailureClassCheck));
        attempt.HasKey(static a => a.Id).HasName("hermes_delivery_attempts_pkey");
        attempt.Property(static a => a.Id).HasColumnName("id").UseIdentityByDefaultColumn();
        attempt.Property(static a => a.OutboxId).HasColumnName("outbox_id");
        attempt.Property(static a => a.BackupId).HasColumnName("lead_id");
        attempt.Property(static a => a.AttemptNumber).HasColumnName("attempt_number");
        attempt.Property(static a => a.StartedAt).HasColumnName("started_at");
        attempt.Property(static a => a.DurationMs).HasColumnName("duration_ms");
        attempt.Property(static a => a.StatusCode).HasColumnName("status_code");
        attempt.Property(static a => a.Outcome).HasColumnName("outcome").HasMaxLength(20);
        attempt.Property(static a => a.Error).HasColumnName("error").HasColumnType("text");
        attempt.Property(static a => a.ResponseExcerpt).HasColumnName("response_excerpt").HasColumnType("text");
        attempt.Property(static a => a.WorkerId).HasColumnName("worker_id").HasMaxLength(200);
        attempt.Property(static a => a.FailureClass).HasColumnName("failure_class").HasMaxLength(10);

        attempt.HasOne<OutboxMessage>().WithMany().HasForeignKey(static a => a.OutboxId)
            .HasConstraintName("fk_hermes_delivery_attempts_outbox").OnDelete(DeleteBehavior.Cascade);
        attempt.HasOne<Lead>().WithMany().HasForeignKey(static a => a.BackupId)
            .HasConstraintName("fk_hermes_delivery_attempts_lead").OnDelete(DeleteBehavior.Restrict);
        attempt.HasIndex(static a => new { a.OutboxId, a.AttemptNumber }).HasDatabaseName("idx_hermes_delivery_attempts_outbox");
        attempt.HasIndex(static a => a.BackupId).HasDatabaseName("idx_hermes_delivery_attempts_lead_id");
        attempt.HasIndex(static a => a.StartedAt).HasDatabaseName("idx_hermes_delivery_attempts_started_at");
    }
}
